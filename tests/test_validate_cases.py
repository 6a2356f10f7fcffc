"""`mdmtool validate` treats every file of every recorded case as Codex 0.169.0 did.

* a key Codex reported as "is ignored" is an unknown-key warning (MDM003) in that file;
* a file Codex refused (its path or requirements layer in the fatal message) has an error;
* when Codex started, no file of an enabled layer has an error-level finding.
"""

from __future__ import annotations

import glob
import json
import os
import re

import pytest

from mdmtool.commands.validate import validate_files
from mdmtool.schemas import RULE_UNKNOWN_KEY, load_schema
from tests.casekit import materialise, normaliser
from tests.oracle_compare import all_cases, codex_cli_error

CASES = all_cases()

#: Files that are invalid on their own but that Codex did not refuse in that case, and why.
ACCEPTED_IN_CONTEXT = {
    "102_q14_system_untrusted_user_on_request": "system untrusted overridden by the user layer",
    "109_q14_system_untrusted_user_never": "system untrusted overridden by the user layer",
    "117_q14_system_untrusted_project_never": "system untrusted overridden by a project layer",
    "119_q14_system_untrusted_c_on_request": "system untrusted overridden by -c",
    "108_q14_untrusted_project_untrusted": "the file belongs to a disabled (untrusted) project",
    "214_project_syntax_error_untrusted": "the file belongs to a disabled (untrusted) project",
    "317_shell_env_forms_across_layers": "the two forms are in different layers",
    "720_req_profiles_replacement_keeps_configured_default":
        "managed_config.toml replaces the empty allow-list before Codex checks it",
    "721_req_profiles_configured_default_beats_managed_sandbox":
        "managed_config.toml replaces the empty allow-list before Codex checks it",
    "722_managed_default_permissions_beats_session_sandbox":
        "managed_config.toml replaces the empty allow-list before Codex checks it",
    "744_config_permissions_without_default_but_required_default":
        "requirements.toml supplies the default_permissions the config file lacks",
}
#: Files Codex refused only in combination with the command line, and why.
REFUSED_IN_CONTEXT = {
    "08_profile_legacy_table_with_flag": "[profiles.work] is fatal only together with -p work",
}

_IGNORED = re.compile(r"^  (?P<src>[a-z-]+)(?: \((?P<file>[^)]*)\))?: `(?P<key>[^`]+)` is ignored\.")


def _case_files(m) -> list[str]:
    files = []
    if m.system_dir:
        files += sorted(glob.glob(os.path.join(m.system_dir, "*.toml")))
    files += sorted(glob.glob(os.path.join(m.codex_home, "*.toml")))
    files += sorted(glob.glob(os.path.join(m.project, "**", ".codex", "config.toml"), recursive=True))
    return files


def _ignored_keys(exp: dict) -> tuple[dict[str, set[str]], bool]:
    """file (placeholder form) -> keys Codex said it ignores; and whether the list is complete."""
    out: dict[str, set[str]] = {}
    complete = True
    for w in exp.get("warnings", []):
        if w.get("source") != "app-server:configWarning":
            continue
        summary = (w.get("params") or {}).get("summary", "")
        if not summary.startswith("Codex is ignoring"):
            continue
        for line in summary.split("\n")[1:]:
            if line.startswith("  ... and"):
                complete = False
            m = _IGNORED.match(line)
            if m and m.group("file"):
                out.setdefault(m.group("file"), set()).add(m.group("key"))
    return out, complete


@pytest.mark.skipif(not load_schema("config"), reason="schemas not built yet")
@pytest.mark.parametrize("case_dir", CASES, ids=[os.path.basename(c) for c in CASES])
def test_validate_agrees_with_codex(case_dir, case_root):
    name = os.path.basename(case_dir)
    with open(os.path.join(case_dir, "expected.json"), encoding="utf-8") as fh:
        exp = json.load(fh)
    m = materialise(case_dir, case_root)
    norm = normaliser(m)
    ignored, complete = _ignored_keys(exp)
    failed = bool(exp["effective"].get("startup_failed"))
    fatal_text = " ".join(
        json.dumps(w.get("params") or w.get("line") or "") for w in exp.get("warnings", [])
        if w.get("source") in ("cli:stderr", "app-server:--print-startup-config"))
    cli_error = codex_cli_error(exp) or ""
    problems = []
    for path in _case_files(m):
        shown = norm(path)
        findings, _ = validate_files([path])
        unknown = {f.key for f in findings if f.rule == RULE_UNKNOWN_KEY}
        # start-up refusals only: session-time failures and "enforces nothing" (issue 9 rules)
        # are errors although Codex starts
        errors = [f for f in findings if f.severity == "error" and f.rule.startswith("MDM0")]
        if shown in ignored:
            missing = ignored[shown] - unknown
            if missing:
                problems.append(f"{shown}: Codex ignores {sorted(missing)}, validate did not flag them")
            if complete and unknown - ignored[shown]:
                problems.append(f"{shown}: validate flags {sorted(unknown - ignored[shown])}, Codex knows them")
        elif complete and unknown and not failed and "/.codex/" not in shown and not m.profile:
            problems.append(f"{shown}: validate flags {sorted(unknown)}, Codex reported none")
        named = shown in fatal_text or (shown.endswith("requirements.toml") and "requirements layer" in fatal_text)
        if failed and named and not errors and not cli_error.startswith("error: ") \
                and name not in REFUSED_IN_CONTEXT:
            problems.append(f"{shown}: Codex refused this file, validate found no error")
        if not failed and errors and name not in ACCEPTED_IN_CONTEXT:
            problems.append(f"{shown}: Codex started, validate reports {[f.line_text() for f in errors]}")
    assert not problems, "\n".join(norm(p) for p in problems)
