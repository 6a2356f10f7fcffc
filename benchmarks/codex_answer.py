"""Time one cold answer of the real Codex 0.169.0 through mdmtool's driver, for one case.

"Cold" = every run materialises the case afresh and starts new Codex processes (no
daemon, no warm cache), which is what `mdmtool crosscheck` and benchmarks/effective.py
pay per machine.  Prints each run's wall time, the driver's per-step times and the median;
``--json`` prints the same as one JSON object (for benchmarks/effective.py and CI logs).

    python benchmarks/codex_answer.py [CASE_DIR] [--runs 3] [--observe] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from mdmtool.codex_driver import CodexSetup, CodexUnavailable, find_codex, run_codex, scratch_root  # noqa: E402
from tests.casekit import materialise  # noqa: E402

DEFAULT_CASE = os.path.join(ROOT, "fixtures", "oracle_cases", "12_req_disallow_never")


def one_run(case: str, base: str, codex: str, observe: bool) -> dict:
    t0 = time.perf_counter()
    m = materialise(case, base)
    ans = run_codex(CodexSetup(codex_home=m.codex_home, home=m.home, cwd=m.cwd, system_dir=m.system_dir,
                               profile=m.profile, overrides=m.overrides, flags=m.flags, codex_bin=codex,
                               observe_web_search=observe))
    wall = time.perf_counter() - t0
    steps = {k: v.get("elapsed_s") for k, v in ans.raw.items() if isinstance(v, dict) and "elapsed_s" in v}
    return {"wall_s": round(wall, 3), "steps_s": steps, "startup_ok": ans.startup_ok,
            "approval_policy": ans.approval_policy, "sandbox_mode": ans.sandbox_mode}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("case", nargs="?", default=DEFAULT_CASE, help="oracle-layout case dir")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--observe", action="store_true", help="also catch the first model request (web search)")
    ap.add_argument("--json", action="store_true")
    opts = ap.parse_args()
    codex = find_codex()
    if not codex:
        print("codex_answer.py: no Codex binary (set CODEX_BIN)", file=sys.stderr)
        return 2
    base = tempfile.mkdtemp(prefix="bench-", dir=scratch_root())
    try:
        runs = [one_run(opts.case, base, codex, opts.observe) for _ in range(max(1, opts.runs))]
    except CodexUnavailable as exc:
        print(f"codex_answer.py: {exc}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(base, ignore_errors=True)
    out = {"case": os.path.basename(os.path.normpath(opts.case)), "observe": opts.observe, "runs": runs,
           "first_s": runs[0]["wall_s"], "median_s": round(statistics.median(r["wall_s"] for r in runs), 3)}
    if opts.json:
        print(json.dumps(out, indent=2))
        return 0
    for i, r in enumerate(runs, 1):
        steps = ", ".join(f"{k} {v:.3f}s" for k, v in r["steps_s"].items())
        print(f"run {i}: {r['wall_s']:.3f}s  ({steps})")
    print(f"{out['case']}: first {out['first_s']:.3f}s, median {out['median_s']:.3f}s over {len(runs)} cold run(s)"
          + (" with the web search probe" if opts.observe else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
