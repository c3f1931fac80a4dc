#!/usr/bin/env bash
# Fails when a generated file differs from what crds/ produces (a hand edit, or a CRD change without
# `make generate`), and when a CRD field lacks a description. Part of `make test` and CI.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
exec "$root/hack/generate.sh" --check "$@"
