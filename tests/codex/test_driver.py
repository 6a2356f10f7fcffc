"""The Codex driver against the answers recorded by the shared oracle (fixtures/oracle_cases/).

Each case is materialised (tests/casekit.py), Codex 0.169.0 is run by
:mod:`mdmtool.codex_driver`, and the key fields must equal the recorded ``expected.json``:
startup failure, approval, reviewer, sandbox mode, network, active permission profile, web
search and the configWarning summaries (for ``-p`` cases the ``codex exec`` warnings).
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.casekit import materialise, normaliser

pytestmark = pytest.mark.codex

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures")
#: the shared oracle's own cases; MDMTOOL_DRIVER_ALL_CASES=1 adds every recorded fixtures/cases/*
CASE_DIRS = ["oracle_cases"] + (["cases"] if os.environ.get("MDMTOOL_DRIVER_ALL_CASES") else [])


def _cases() -> dict[str, str]:
    out = {}
    for sub in CASE_DIRS:
        base = os.path.normpath(os.path.join(FIXTURES, sub))
        for name in sorted(os.listdir(base)) if os.path.isdir(base) else []:
            if os.path.isfile(os.path.join(base, name, "expected.json")):
                out[name] = os.path.join(base, name)
    return out


CASE_PATHS = _cases()
CASES = sorted(CASE_PATHS)


def _selected(request) -> list[str]:
    """The case names of this module's selected tests (so ``-k`` runs only those cases)."""
    names = {item.callspec.params["name"] for item in request.session.items
             if item.module is request.module and hasattr(item, "callspec") and "name" in item.callspec.params}
    return sorted(names)


def _run_all(codex_bin: str, scratch: str, observe: bool, names: list[str]) -> dict:
    from mdmtool.codex_driver import CodexSetup, run_codex

    def one(name: str):
        m = materialise(CASE_PATHS[name], os.path.join(scratch, "obs" if observe else "cfg"))
        ans = run_codex(CodexSetup(codex_home=m.codex_home, home=m.home, cwd=m.cwd,
                                   system_dir=m.system_dir, profile=m.profile, overrides=m.overrides,
                                   flags=m.flags, codex_bin=codex_bin, observe_web_search=observe))
        return name, ans, normaliser(m)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return {name: (ans, norm) for name, ans, norm in pool.map(one, names)}


@pytest.fixture(scope="module")
def answers(request, codex_bin, codex_scratch):
    return _run_all(codex_bin, codex_scratch, False, sorted(set(_selected(request)) | {"12_req_disallow_never", "02_empty_trusted"}))


@pytest.fixture(scope="module")
def observed(request, codex_bin, codex_scratch):
    return _run_all(codex_bin, codex_scratch, True, _selected(request))


def expected_key_fields(name: str) -> dict:
    with open(os.path.join(CASE_PATHS[name], "expected.json"), encoding="utf-8") as fh:
        exp = json.load(fh)
    eff = exp["effective"]
    profile = exp["oracle"]["args"].get("profile")
    source = "cli-exec:warning" if profile else "app-server:configWarning"
    if exp["startup"].get("cli_prompt_input_rc") == 2:
        # the CLI's argument parser refuses the flags (the oracle's app-server view cannot
        # see that): Codex does not start, nothing else is observed
        return {"startup_failed": True, "approval_policy": None, "approvals_reviewer": None,
                "sandbox_mode": None, "network_access": None, "permission_profile": None,
                "web_search": None, "warnings": [], "web_search_observed": None,
                "thread_warnings": None}
    return {
        "startup_failed": eff["startup_failed"],
        "approval_policy": eff["approval_policy"],
        "approvals_reviewer": eff["approvals_reviewer"],
        "sandbox_mode": eff["sandbox_mode"],
        "network_access": eff["network_access"],
        "permission_profile": (eff.get("active_permission_profile") or {}).get("id"),
        "web_search": eff.get("web_search_effective"),
        "warnings": [w.get("line") if profile else w["params"]["summary"]
                     for w in exp["warnings"] if w["source"] == source],
        "web_search_observed": eff.get("web_search_observed"),
        "thread_warnings": [w["params"]["message"] for w in exp["warnings"]
                            if w["source"] == "app-server:warning"]
        if eff["source"] == "app_server.thread_start" else None,
    }


def driver_key_fields(ans, norm) -> dict:
    approval = ans.approval_policy
    if approval == "granular":
        approval = {"granular": ans.approval_granular}
    return {
        "startup_failed": not ans.startup_ok,
        "approval_policy": approval,
        "approvals_reviewer": ans.approvals_reviewer,
        "sandbox_mode": ans.sandbox_mode,
        "network_access": ans.network_access,
        "permission_profile": ans.permission_profile,
        "web_search": ans.web_search,
        "warnings": norm(ans.warnings),
        "thread_warnings": norm(ans.thread_warnings),
    }


def test_cases_present():
    assert len(CASES) >= 20, f"oracle cases missing under {FIXTURES}/oracle_cases"


@pytest.mark.parametrize("name", CASES)
def test_driver_agrees_with_recorded_answer(answers, name):
    ans, norm = answers[name]
    want = expected_key_fields(name)
    want.pop("web_search_observed")
    got = driver_key_fields(ans, norm)
    if ans.source == "cli" and ans.startup_ok:
        # -p: the oracle's configured value comes from the app-server, which cannot load the
        # profile; only the observed mode (test below) is comparable
        got.pop("web_search"), want.pop("web_search")
    _unreadable_reviewer(ans, got, want)
    assert got == want
    if not ans.startup_ok:
        assert ans.errors, "a refused start-up must name Codex's fatal message"


@pytest.mark.parametrize("name", CASES)
def test_observed_web_search_agrees(observed, name):
    ans, norm = observed[name]
    want = expected_key_fields(name)
    got = driver_key_fields(ans, norm)
    assert got["web_search"] == want.pop("web_search_observed")
    assert ans.web_search_source in (("observed",) if ans.startup_ok else (None, "observed"))
    want.pop("web_search")
    got.pop("web_search")
    _unreadable_reviewer(ans, got, want)
    assert got == want


def _unreadable_reviewer(ans, got: dict, want: dict) -> None:
    """The CLI text names the reviewer only under on-request; the oracle then assumes "user"."""
    if ans.source == "cli" and ans.startup_ok and got["approvals_reviewer"] is None:
        assert ans.approval_policy != "on-request"
        got["approvals_reviewer"] = want["approvals_reviewer"]


def test_requirements_and_layers_reported(answers):
    ans, norm = answers["12_req_disallow_never"]
    assert ans.requirements["requirements"]["allowedApprovalPolicies"] == ["on-request"]
    user = [lay for lay in ans.layers if lay["name"]["type"] == "user"]
    assert norm(user[0]["name"]["file"]) == "<CODEX_HOME>/config.toml"
    assert user[0]["config"]["approval_policy"] == "never"
    # no /etc/codex in the case: Codex sees no system requirements at all
    ans, _ = answers["02_empty_trusted"]
    assert ans.requirements["requirements"] is None
    assert [lay["name"]["type"] for lay in ans.layers] == ["user", "system"]


def test_missing_binary_is_a_clear_error(codex_scratch):
    from mdmtool.codex_driver import CodexSetup, CodexUnavailable, find_codex, run_codex

    bogus = os.path.join(codex_scratch, "no-such-codex")
    assert find_codex(bogus) is None
    with pytest.raises(CodexUnavailable):
        run_codex(CodexSetup(codex_home=codex_scratch, home=codex_scratch, cwd=codex_scratch,
                             codex_bin=bogus))


def test_codex_home_under_tmp_is_refused(codex_bin, tmp_path):
    from mdmtool.codex_driver import CodexSetup, run_codex
    from mdmtool.errors import MdmError

    with pytest.raises(MdmError, match="/tmp"):
        run_codex(CodexSetup(codex_home=str(tmp_path), home=str(tmp_path), cwd=str(tmp_path),
                             codex_bin=codex_bin))


def test_version(codex_bin):
    from mdmtool.codex_driver import codex_version

    assert codex_version(codex_bin) == "0.169.0"


def test_cli_does_not_import_the_driver():
    """The driver is for crosscheck/tests only: ``mdmtool`` must not load it at start-up."""
    import subprocess
    import sys

    code = "import sys, mdmtool.cli; print('mdmtool.codex_driver' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
