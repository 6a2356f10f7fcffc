"""Compare mdmtool's resolver with a recorded Codex 0.169.0 answer (expected.json)."""

from __future__ import annotations

import json
import os
from typing import Any

from mdmtool.model import ResolveInputs
from tests.casekit import Materialised, materialise, normaliser

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")
CASE_DIRS = [os.path.join(FIXTURES, "oracle_cases"), os.path.join(FIXTURES, "cases")]


def all_cases() -> list[str]:
    out = []
    for base in CASE_DIRS:
        if not os.path.isdir(base):
            continue
        for name in sorted(os.listdir(base)):
            if os.path.exists(os.path.join(base, name, "expected.json")):
                out.append(os.path.join(base, name))
    return out


def inputs_for(m: Materialised) -> ResolveInputs:
    """The ResolveInputs for a case: the same command line the oracle gave Codex."""
    inp = ResolveInputs(system_dir=m.system_dir or os.path.join(m.work, "no-etc-codex"),
                        codex_home=m.codex_home, cwd=m.cwd, profile=m.profile,
                        overrides=m.overrides)
    flags = m.flags
    i = 0
    while i < len(flags):
        f = flags[i]
        nxt = flags[i + 1] if i + 1 < len(flags) else None
        if f in ("--sandbox", "-s"):
            inp.sandbox, i = nxt, i + 2
        elif f in ("-a", "--ask-for-approval"):
            inp.approval, i = nxt, i + 2
        elif f == "--add-dir":
            inp.add_dirs.append(nxt)
            i += 2
        elif f == "--enable":
            inp.enable.append(nxt)
            i += 2
        elif f == "--disable":
            inp.disable.append(nxt)
            i += 2
        elif f == "--search":
            inp.search, i = True, i + 1
        elif f in ("--dangerously-bypass-approvals-and-sandbox", "--yolo"):
            inp.yolo, i = True, i + 1
        elif f == "--full-auto":
            inp.full_auto, i = True, i + 1
        else:
            raise ValueError(f"flag not modelled by the test harness: {f}")
    return inp


def profile_case(exp: dict) -> bool:
    return bool(exp["effective"].get("source") == "cli_prompt_input" and exp["oracle"]["args"].get("profile"))


def expected_warnings(exp: dict) -> list[str]:
    """The configWarning summaries Codex printed (CLI exec warnings for -p cases)."""
    out = []
    profile_case = exp["effective"].get("source") == "cli_prompt_input" and exp["oracle"]["args"].get("profile")
    for w in exp.get("warnings", []):
        src = w.get("source")
        if src == "app-server:configWarning" and not profile_case:
            text = (w.get("params") or {}).get("summary", "")
        elif src == "cli-exec:warning" and profile_case:
            text = w.get("line") or (w.get("params") or {}).get("message", "")
            text = text.split("\n")[0]
        else:
            continue
        if text and text != "Invalid configuration; using defaults.":
            if profile_case and text in out:  # `codex exec` repeats each warning (thread scope)
                continue
            out.append(text)
    return out


def compare(case_dir: str, tmp_root: str) -> list[str]:
    """Differences between mdmtool and the recorded Codex answer (empty = agreement)."""
    from mdmtool.resolve import resolve

    with open(os.path.join(case_dir, "expected.json"), encoding="utf-8") as fh:
        exp = json.load(fh)
    m = materialise(case_dir, tmp_root)
    norm = normaliser(m)
    inputs = inputs_for(m)
    inputs.auto_trust = not profile_case(exp)  # -p answers come from CLI views: no session start
    policy = resolve(inputs)
    eff = exp["effective"]
    diffs: list[str] = []

    def check(name: str, ours: Any, theirs: Any) -> None:
        if ours != theirs:
            diffs.append(f"{name}: mdmtool={ours!r} codex={theirs!r}")

    cli_error = codex_cli_error(exp)
    # mdmtool models the interactive CLI: a usage error of the CLI (clap) refuses to start
    # even when the app-server view (which never sees those flags) started a thread.
    failed = bool(eff.get("startup_failed")) or (cli_error or "").startswith("error: ")
    check("startup_failed", not policy.ok, failed)
    if failed or not policy.ok:
        if not policy.ok and failed is False:
            diffs.append(f"errors: {norm(policy.errors)}")
        if policy.errors and cli_error and not _is_parser_message(cli_error):
            ours = norm(policy.errors[0]).split("\n")[0]
            check("error", ours, cli_error.removeprefix("Error: ").removeprefix("error: "))
        return diffs
    ap = eff.get("approval_policy")
    if isinstance(ap, dict):
        check("approval_policy", {"granular": policy.approval_granular}, ap)
    elif ap is not None and not str(ap).startswith("unknown"):
        check("approval_policy", policy.approval_policy, ap)
    if eff.get("approvals_reviewer") is not None:
        check("approvals_reviewer", policy.approvals_reviewer, eff["approvals_reviewer"])
    if eff.get("sandbox_mode") is not None:
        check("sandbox_mode", policy.sandbox_mode, eff["sandbox_mode"])
    if eff.get("network_access") is not None:
        check("network_access", policy.network_access, eff["network_access"])
    if eff.get("source") == "app_server.thread_start":
        app = eff.get("active_permission_profile")
        check("permission_profile", policy.permission_profile, app["id"] if app else None)
        check("features_non_default", policy.features_non_default, eff.get("features_non_default") or {})
    if eff.get("web_search_observed") is not None:
        check("web_search", policy.web_search, eff["web_search_observed"])
    ours_w = [norm(w.message) for w in policy.warnings]
    if profile_case(exp):  # `codex exec` prints only the first line of each warning
        ours_w = [w.split("\n")[0] for w in ours_w]
    check("warnings", ours_w, expected_warnings(exp))
    return diffs


def codex_cli_error(exp: dict) -> str | None:
    """The first line the Codex CLI printed on stderr when it refused to start."""
    for w in exp.get("warnings", []):
        if w.get("source") == "cli:stderr":
            line = w.get("line") or ""
            if line.startswith(("Error: ", "error: ")):
                return line
    return None


def _is_parser_message(line: str) -> bool:
    """TOML parser wording differs between toml-rs and tomllib; positions are compared elsewhere."""
    import re
    return bool(re.search(r":\d+:\d+: |TOML parse error|Error parsing", line))
