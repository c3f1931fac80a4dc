#!/usr/bin/env bash
# Builds the Go tools pinned in hack/tools/<name>/go.mod into .cache/bin, keyed by the hash of
# go.mod + go.sum so that only a version change pays the build again.
#   hack/tools/build.sh kubernetes etcd helm
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=hack/lib.sh
source "$root/hack/lib.sh"

command -v go >/dev/null || die "Go is needed to build the control plane (kube-apiserver, etcd) and helm: install Go 1.26 or newer"

# Version stamps compiled into the binaries so kubectl and helm report real versions.
ldflags_for() {
  local dir=$1 v
  case "$(basename "$dir")" in
    kubernetes)
      v=$(awk '/k8s.io\/kubernetes v/ {print $2; exit}' "$dir/go.mod")
      local minor=${v#v1.}; minor=${minor%%.*}
      local p
      for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        printf -- '-X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=%s -X %s.gitTreeState=clean ' "$p" "$v" "$p" "$p" "$minor" "$p"
      done ;;
    helm)
      v=$(awk '/helm.sh\/helm\/v4 v/ {print $2; exit}' "$dir/go.mod")
      printf -- '-X helm.sh/helm/v4/internal/version.version=%s ' "$v" ;;
  esac
}

for name in "$@"; do
  dir=$root/hack/tools/$name
  [ -f "$dir/go.mod" ] || die "no tool module hack/tools/$name"
  key=$(cat "$dir/go.mod" "$dir/go.sum" | sha256sum | cut -c1-16)
  out=$CACHE/tools/go/$name-$key
  if [ ! -f "$out/.complete" ]; then
    log "building $name from Go modules (first run only; a few minutes on 2 cores)"
    mkdir -p "$out"
    if ! (cd "$dir" && go build -trimpath -ldflags "-s -w $(ldflags_for "$dir")" -o "$out/" "$(grep -q "^tool" go.mod && echo tool || echo .)") >"$out/build.log" 2>&1; then
      tail -n 30 "$out/build.log" >&2
      die "building $name failed; full log: $out/build.log"
    fi
    touch "$out/.complete"
  fi
  mkdir -p "$BIN"
  for exe in "$out"/*; do
    [ -x "$exe" ] && [ -f "$exe" ] && ln -sfn "$exe" "$BIN/$(basename "$exe")"
  done
done
