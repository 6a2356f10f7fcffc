"""Generate a fleet of real host trees and their `mdmtool effective` documents.

Each host is a real directory tree (system dir, CODEX_HOME, a project with .codex/) built
from one of the SETUPS below and resolved by mdmtool's resolver, so every document is
exactly what `mdmtool effective --format json` prints on that host. For large fleets
(benchmarks) only the distinct setups are resolved; further hosts are the same documents
with their own user paths substituted, which is what the resolver would print there.
Used by benchmarks/fleet_report.py and tests/test_fleet.py.
"""

from __future__ import annotations

import json
import os
import shutil
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from mdmtool.model import ResolveInputs  # noqa: E402
from mdmtool.resolve import resolve  # noqa: E402
from mdmtool.postures import template_path  # noqa: E402

WIDE = ('approval_policy = "never"\nsandbox_mode = "danger-full-access"\n'
        'approvals_reviewer = "auto_review"\nweb_search = "live"\n')

#: name -> (posture templates deployed or None, user config, project config, project trusted)
SETUPS: dict[str, tuple] = {
    "unmanaged-plain": (None, "", None, True),
    "unmanaged-wide": (None, WIDE, None, True),
    "open-plain": ("open", "", None, True),
    "open-wide": ("open", WIDE, None, True),
    "open-never-ws": ("open", 'approval_policy = "never"\nsandbox_mode = "workspace-write"\n', None, True),
    "open-live": ("open", 'web_search = "live"\n', None, True),
    "balanced-plain": ("balanced", "", None, True),
    "balanced-project": ("balanced", "", "balanced", True),
    "balanced-untrusted": ("balanced", "", "balanced", False),
    "strict-plain": ("strict", "", None, True),
    "strict-wide": ("strict", WIDE, None, True),
    "strict-project": ("strict", "", "strict", True),
    "broken-req": ("broken", "", None, True),
    "custom": ("custom", "", None, True),
}

BROKEN_REQUIREMENTS = 'allowed_sandbox_modes = ["workspace-write"]\n'  # no read-only: FATAL
CUSTOM_REQUIREMENTS = 'allowed_approval_policies = ["on-request"]\nallowed_sandbox_modes = ["read-only"]\n'


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def host_inputs(root: str) -> ResolveInputs:
    """How Codex starts on the host tree at ``root`` (as built by :func:`build_host`)."""
    return ResolveInputs(system_dir=os.path.join(root, "etc", "codex"),
                         codex_home=os.path.join(root, "Users", "dev", ".codex"),
                         cwd=os.path.join(root, "Users", "dev", "src", "app"))


def build_host(root: str, setup: str) -> ResolveInputs:
    """Create one host tree under ``root`` for ``setup``; return how Codex starts there."""
    posture, user, project, trusted = SETUPS[setup]
    inputs = host_inputs(root)
    system, home, proj = inputs.system_dir, inputs.codex_home, inputs.cwd
    os.makedirs(system, exist_ok=True)
    os.makedirs(home, exist_ok=True)
    os.makedirs(os.path.join(proj, ".git"), exist_ok=True)
    os.makedirs(os.path.join(proj, ".codex"), exist_ok=True)
    if posture in ("strict", "balanced", "open"):
        for name in ("requirements.toml", "managed_config.toml"):
            shutil.copy(template_path(posture, name), os.path.join(system, name))
    elif posture == "broken":
        _write(os.path.join(system, "requirements.toml"), BROKEN_REQUIREMENTS)
    elif posture == "custom":
        _write(os.path.join(system, "requirements.toml"), CUSTOM_REQUIREMENTS)
    if project:
        shutil.copy(template_path(project, os.path.join("project", ".codex", "config.toml")),
                    os.path.join(proj, ".codex", "config.toml"))
    if trusted:
        user += f'\n[projects."{proj}"]\ntrust_level = "trusted"\n'
    _write(os.path.join(home, "config.toml"), user)
    return inputs


def effective_doc(inputs: ResolveInputs, host: str, backend: bool | None = True) -> dict:
    doc = resolve(inputs).to_json()
    doc["host"] = host
    if backend is not None:
        doc["sandbox_backend"] = {"name": "bwrap", "available": backend,
                                  "reason": None if backend else "bubblewrap is not installed"}
    return doc


def setup_for(i: int) -> str:
    names = list(SETUPS)
    return names[i % len(names)]


def write_fleet(root: str, n: int, *, jsonl: str | None = None, out_dir: str | None = None,
                resolve_all: bool = False) -> dict[str, str]:
    """Write n documents (to a JSON-lines file and/or a directory); returns host -> setup.

    ``resolve_all``: build and resolve a real tree per host (slow, exact). Otherwise one
    tree per setup, documents re-targeted per host by path substitution.
    """
    templates: dict[str, tuple[str, str]] = {}
    if not resolve_all:
        for setup in SETUPS:
            base = os.path.join(root, "setups", setup)
            inputs = build_host(base, setup)
            templates[setup] = (base, json.dumps(effective_doc(inputs, "@HOST@")))
    hosts: dict[str, str] = {}
    jf = open(jsonl, "w", encoding="utf-8") if jsonl else None
    try:
        if out_dir:
            os.makedirs(out_dir, exist_ok=True)
        for i in range(n):
            host = f"host-{i:06d}"
            setup = setup_for(i)
            hosts[host] = setup
            hroot = os.path.join(root, "hosts", host)
            if resolve_all:
                text = json.dumps(effective_doc(build_host(hroot, setup), host,
                                                backend=(i % 7 != 3)))
            else:
                base, text = templates[setup]
                text = text.replace(base, hroot).replace("@HOST@", host)
                if i % 7 == 3:
                    text = text.replace('"available": true', '"available": false').replace(
                        '"reason": null', '"reason": "bubblewrap is not installed"')
            if jf:
                jf.write(json.dumps(json.loads(text), separators=(",", ":")) + "\n")
            if out_dir:
                sub = os.path.join(out_dir, host[:-3])
                os.makedirs(sub, exist_ok=True)
                with open(os.path.join(sub, host + ".json"), "w", encoding="utf-8") as fh:
                    fh.write(text)
    finally:
        if jf:
            jf.close()
    return hosts
