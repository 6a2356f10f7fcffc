"""Live differential test: mdmtool's resolver against the real Codex 0.169.0.

Hypothesis draws random machines (system / user / project / profile / managed config,
requirements, ``-c`` overrides, flags, trust -- see scenarios.py); each one is given to Codex
(through :mod:`mdmtool.codex_driver`, sandboxed and offline) and to
:func:`mdmtool.resolve.resolve`, and the key fields must agree: would Codex start, approval
policy (+ granular flags), reviewer, sandbox mode, network, active permission profile,
observed web search mode and the warnings.

Knobs (environment):
  MDMTOOL_DIFF_EXAMPLES  generated machines per run (default 50)
  MDMTOOL_DIFF_BATCH     machines per Hypothesis example, run by Codex in parallel (default 4)
  MDMTOOL_DIFF_SEED      Hypothesis seed (default fixed, so CI runs are reproducible)
  MDMTOOL_DIFF_SHRINK=1  let Hypothesis shrink a failing batch (slow: every step runs Codex)
  MDMTOOL_DIFF_KEEP_GOING=1  do not stop at the first disagreeing batch: run every machine and
                         let test_no_disagreements list them all (a survey for the resolver)

Every disagreement is written out as an oracle-layout case directory (with DIFF.txt and both
answers) whose path is printed; copy it to fixtures/cases/ and record it with the oracle.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from tests.casekit import materialise, normaliser
from tests.codex.scenarios import scenario, write_case

pytestmark = pytest.mark.codex

EXAMPLES = int(os.environ.get("MDMTOOL_DIFF_EXAMPLES") or 50)
BATCH = max(1, int(os.environ.get("MDMTOOL_DIFF_BATCH") or 4))
SEED = int(os.environ.get("MDMTOOL_DIFF_SEED") or 20261126)
KEEP_GOING = bool(os.environ.get("MDMTOOL_DIFF_KEEP_GOING"))
PHASES = (Phase.explicit, Phase.generate) + ((Phase.shrink,) if os.environ.get("MDMTOOL_DIFF_SHRINK") else ())

_counter = itertools.count()
_lock = threading.Lock()
RAN: list[str] = []
FAILED: list[str] = []


@pytest.fixture(scope="module")
def resolver():
    try:
        from mdmtool.resolve import resolve
    except ImportError:
        pytest.skip("resolver not available")
    return resolve


@pytest.fixture(scope="module")
def failures_dir():
    from mdmtool.codex_driver import scratch_root

    path = tempfile.mkdtemp(prefix="diff-failures-", dir=scratch_root())
    yield path
    if not os.listdir(path):  # keep it only when it holds disagreements to look at
        os.rmdir(path)


def differences(ans, pol, norm, profile: bool, flags_bypass_config: bool = False) -> list[str]:
    """Key-field disagreements between Codex (``ans``) and mdmtool (``pol``); [] = agree."""
    diffs: list[str] = []

    def check(name, ours, theirs):
        if ours != theirs:
            diffs.append(f"{name}: mdmtool={ours!r} codex={theirs!r}")

    check("starts", pol.ok, ans.startup_ok)
    if not (pol.ok and ans.startup_ok):
        if pol.ok != ans.startup_ok:
            diffs.append(f"codex errors: {norm(ans.errors)}; mdmtool errors: {norm(pol.errors)}")
        return diffs
    if ans.approval_policy is not None:  # None: not readable from the CLI view (-p)
        check("approval_policy", pol.approval_policy, ans.approval_policy)
        if ans.approval_policy == "granular":
            check("approval_granular", pol.approval_granular, ans.approval_granular)
    for name in ("approvals_reviewer", "sandbox_mode", "network_access"):
        if getattr(ans, name) is not None:
            check(name, getattr(pol, name), getattr(ans, name))
    if ans.source == "app-server":
        check("permission_profile", pol.permission_profile, ans.permission_profile)
    if ans.web_search_source == "observed":
        check("web_search", pol.web_search, ans.web_search)
    ours = [norm(w.message) for w in pol.warnings]
    theirs = norm(ans.warnings)
    if profile:
        # -p warnings come from `codex -p P exec`: it forces approval `never` (the driver drops
        # those warnings), words the project-trust warning its own way and repeats some lines
        ours, theirs = _exec_comparable(ours), _exec_comparable(theirs)
        ours = [w for w in ours if "`approval_policy`" not in w]
    if flags_bypass_config and not profile and ans.thread_warnings is not None:
        # The app-server computes its start-up warnings (configWarning) on the config WITHOUT
        # -s/-a/--dangerously-... (they are thread/start parameters); the thread's own
        # warnings have them applied, like the interactive CLI (and `codex exec -s ...`).
        # So requirement fallbacks are compared with the thread's, the rest with start-up's.
        check("warnings (fallbacks, flags applied)", _fallbacks(ours, True),
              _fallbacks(norm(ans.thread_warnings), True))
        # A config that only loads with the flags (e.g. [permissions] tables without
        # default_permissions under -s) fails the flagless start-up load: the app-server
        # then says "Invalid configuration; using defaults." although the session starts.
        others = [w for w in _fallbacks(theirs, False) if w != "Invalid configuration; using defaults."]
        check("warnings (others)", _fallbacks(ours, False), others)
        return diffs
    check("warnings", ours, theirs)
    return diffs


def _fallbacks(warnings: list[str], wanted: bool) -> list[str]:
    return [w for w in warnings if w.startswith("Configured value for `") == wanted]


_TRUST_WARNINGS = ("Project-local config, hooks, and exec policies are disabled",
                   "Untrusted project-local configuration is disabled")


def _exec_comparable(warnings: list[str]) -> list[str]:
    return list(dict.fromkeys(w for w in warnings if not w.startswith(_TRUST_WARNINGS)))


def _key_fields(obj) -> dict:
    keys = ("approval_policy", "approval_granular", "approvals_reviewer", "sandbox_mode",
            "network_access", "permission_profile", "web_search", "errors")
    out = {k: getattr(obj, k, None) for k in keys}
    out["startup_ok"] = getattr(obj, "startup_ok", getattr(obj, "ok", None))
    out["warnings"] = [getattr(w, "message", w) for w in obj.warnings]
    return out


def run_one(sc: dict, codex_bin: str, scratch: str, resolve, failures: str) -> tuple[str, list[str]]:
    from mdmtool.codex_driver import CodexSetup, run_codex
    from tests.oracle_compare import inputs_for

    with _lock:
        name = f"diff_{next(_counter):04d}"
    case = write_case(sc, os.path.join(scratch, "diff-cases", name))
    m = materialise(case, os.path.join(scratch, "diff-runs"))
    norm = normaliser(m)
    # resolve BEFORE Codex runs: Codex itself writes a trust entry into config.toml when a
    # thread starts in an unlisted project, so the files are not the same afterwards
    try:
        inputs = inputs_for(m)
        # -p is only visible through `codex debug prompt-input` / `codex exec`, which load the
        # config without starting an app-server thread: no automatic project trust there
        inputs.auto_trust = not m.profile
        pol, crash = resolve(inputs), None
    except Exception as exc:  # noqa: BLE001 - a crash is a disagreement too
        pol, crash = None, f"mdmtool raised {type(exc).__name__}: {exc}"
    ans = run_codex(CodexSetup(codex_home=m.codex_home, home=m.home, cwd=m.cwd, system_dir=m.system_dir,
                               profile=m.profile, overrides=m.overrides, flags=m.flags,
                               codex_bin=codex_bin, observe_web_search=True))
    if crash:
        diffs, ours = [crash], None
    else:
        flagged = any(f in ("--sandbox", "-s", "-a", "--ask-for-approval",
                            "--dangerously-bypass-approvals-and-sandbox") for f in m.flags)
        diffs = differences(ans, pol, norm, bool(m.profile), flagged)
        ours = norm(_key_fields(pol))
    if diffs:
        case = write_case(sc, os.path.join(failures, name), extra={
            "DIFF.txt": "\n".join(diffs) + "\n",
            "codex_answer.json": json.dumps(norm(_key_fields(ans)), indent=2) + "\n",
            "mdmtool_answer.json": json.dumps(ours, indent=2, default=str) + "\n"})
    return case, diffs


@seed(SEED)
@settings(max_examples=math.ceil(EXAMPLES / BATCH), deadline=None, database=None, phases=PHASES,
          suppress_health_check=list(HealthCheck), print_blob=False)
@given(batch=st.lists(scenario(), min_size=BATCH, max_size=BATCH))
def test_resolver_agrees_with_live_codex(batch, codex_bin, codex_scratch, resolver, failures_dir):
    with ThreadPoolExecutor(max_workers=BATCH) as pool:
        results = list(pool.map(lambda sc: run_one(sc, codex_bin, codex_scratch, resolver, failures_dir),
                                batch))
    RAN.extend(case for case, _ in results)
    bad = [(case, diffs) for case, diffs in results if diffs]
    FAILED.extend(bad)
    assert KEEP_GOING or not bad, (f"mdmtool disagrees with Codex {len(bad)}/{len(batch)} time(s); "
                                   f"re-runnable case dirs:\n{_report(bad)}")


def _report(bad: list[tuple[str, list[str]]]) -> str:
    return "\n".join(f"{case}\n    " + "\n    ".join(diffs) for case, diffs in bad)


def test_enough_machines_were_compared(codex_bin, resolver):
    """Runs after the property test (file order): it must really have driven Codex."""
    if not RAN or (FAILED and not KEEP_GOING):
        pytest.skip("the differential test did not run to the end (selected out or failed)")
    assert len(RAN) >= EXAMPLES
    assert not FAILED, (f"mdmtool disagrees with Codex on {len(FAILED)}/{len(RAN)} machines; "
                        f"re-runnable case dirs:\n{_report(FAILED)}")
