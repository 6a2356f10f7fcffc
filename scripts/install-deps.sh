#!/usr/bin/env bash
# Install everything mdmtool's tests need on a fresh Debian/Ubuntu machine:
#   bubblewrap (apt), Node/npm (apt, only if missing), the real Codex CLI 0.169.0 (npm),
#   and mdmtool itself with its test extra (pip, editable).
# Idempotent; prints the Codex binary path on its last line.
set -euo pipefail
CODEX_VERSION="${CODEX_VERSION:-0.169.0}"
CODEX_NPM_DIR="${CODEX_NPM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/codex-npm/$CODEX_VERSION}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { printf 'install-deps: %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
command -v git >/dev/null 2>&1 || missing+=(git)
if [ "${#missing[@]}" -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) pkg=codex-linux-x64; triple=x86_64-unknown-linux-musl ;;
  Linux-aarch64|Linux-arm64) pkg=codex-linux-arm64; triple=aarch64-unknown-linux-musl ;;
  *) pkg=""; triple="" ;;
esac
bin=""
if [ -n "$pkg" ]; then
  bin="$CODEX_NPM_DIR/node_modules/@openai/$pkg/vendor/$triple/bin/codex"
  if [ -x "$bin" ] && [ "$("$bin" --version 2>/dev/null)" = "codex-cli $CODEX_VERSION" ]; then
    log "Codex $CODEX_VERSION already installed"
  else
    log "npm install @openai/codex@$CODEX_VERSION into $CODEX_NPM_DIR"
    mkdir -p "$CODEX_NPM_DIR"
    npm install --prefix "$CODEX_NPM_DIR" --no-audit --no-fund --loglevel=error "@openai/codex@$CODEX_VERSION" >&2
  fi
fi

log "pip install -e $here[test]"
python3 -m pip install -q --disable-pip-version-check -e "$here[test]" >&2
printf '%s\n' "$bin"
