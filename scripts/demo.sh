#!/usr/bin/env bash
# Install mdmtool and run its main job on the shipped example machine (examples/acme).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python3 -m pip install -q --disable-pip-version-check "$here" >&2 || exit 2
ex="$here/examples/acme"
trust="projects={\"$ex/project\"={trust_level=\"trusted\"}}"
echo "\$ mdmtool validate examples/acme/.../*.toml"
mdmtool validate "$ex/etc/codex/requirements.toml" "$ex/home/config.toml" "$ex/project/.codex/config.toml"
echo
echo "\$ mdmtool effective   (ACME's machine, the project trusted with -c)"
mdmtool effective --system-dir "$ex/etc/codex" --codex-home "$ex/home" --cwd "$ex/project" -c "$trust"
echo
echo "\$ mdmtool explain sandbox_mode"
mdmtool explain sandbox_mode --system-dir "$ex/etc/codex" --codex-home "$ex/home" --cwd "$ex/project" -c "$trust"
exit 0
