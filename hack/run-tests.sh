#!/usr/bin/env bash
# Runs the named test tiers (unit, integration, e2e, reliability) with mocha on the compiled tests in
# dist/test, then prints one summary line: "N passed, N failed". Exits non-zero when anything failed.
# Tiers other than unit share one control plane (its own state folder), stopped at the end.
# The reliability tier runs its short version unless SHADOWKEEP_RELIABILITY=full (make test-reliability).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=hack/lib.sh
source "$root/hack/lib.sh"
cd "$root"

export SHADOWKEEP_CONTROL_PLANE_DIR=${SHADOWKEEP_CONTROL_PLANE_DIR:-$CACHE/test-control-plane}
passed=0 failed=0 pending=0 broken=0
started_control_plane=false
failures=$(mktemp)
SHADOWKEEP_FLAKY_LOG=$(mktemp)
export SHADOWKEEP_FLAKY_LOG
cleanup() { $started_control_plane && hack/control-plane down >/dev/null 2>&1; true; }
trap cleanup EXIT

for tier in "$@"; do
  mapfile -t files < <(find "dist/test/$tier" -name '*.test.js' 2>/dev/null | sort)
  if [ ${#files[@]} -eq 0 ]; then continue; fi
  if [ "$tier" != unit ] && ! $started_control_plane; then
    hack/control-plane status 2>/dev/null || started_control_plane=true
    KUBECONFIG=$(hack/control-plane up) || { echo "control plane failed to start" >&2; broken=1; break; }
    export KUBECONFIG
  fi
  echo "=== $tier tests (${#files[@]} files)"
  log=$(mktemp)
  hooks=(--require dist/test/support/flaky-log.js)
  [ -f "dist/test/$tier/hooks.js" ] && hooks+=(--require "dist/test/$tier/hooks.js")
  timeout=$([ "$tier" = unit ] && echo 20000 || echo 120000)
  node --enable-source-maps node_modules/mocha/bin/mocha.js --reporter spec --timeout "$timeout" --retries 1 \
    "${hooks[@]}" "${files[@]}" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  # Mocha colours its summary when the environment forces colour (FORCE_COLOR, some CI runners).
  sed -i 's/\x1b\[[0-9;]*m//g' "$log"
  p=$(grep -oE '^\s+[0-9]+ passing' "$log" | grep -oE '[0-9]+' | tail -1)
  f=$(grep -oE '^\s+[0-9]+ failing' "$log" | grep -oE '[0-9]+' | tail -1)
  s=$(grep -oE '^\s+[0-9]+ pending' "$log" | grep -oE '[0-9]+' | tail -1)
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); pending=$((pending + ${s:-0}))
  # A crash before mocha's summary still fails the run.
  if [ "$rc" -ne 0 ] && [ -z "$f" ]; then broken=1; failed=$((failed + 1)); fi
  # Failures are repeated at the end, so a log's tail says what failed.
  [ -n "$f" ] && sed -n '/^\s*[0-9]* failing/,$p' "$log" >>"$failures"
  rm -f "$log"
done

if [ -s "$failures" ]; then
  echo
  echo "=== failures"
  cat "$failures"
fi
rm -f "$failures"
if [ -s "$SHADOWKEEP_FLAKY_LOG" ]; then
  echo
  echo "=== passed only on retry (flaky: fix these)"
  cat "$SHADOWKEEP_FLAKY_LOG"
fi
rm -f "$SHADOWKEEP_FLAKY_LOG"
echo
if [ "$pending" -gt 0 ]; then
  echo "$passed passed, $failed failed, $pending skipped"
else
  echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] && [ "$broken" -eq 0 ]
