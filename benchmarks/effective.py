"""How fast `mdmtool effective` answers a case, next to the real Codex 0.169.0.

Runs, side by side in one run, for each case:
  * mdmtool: `mdmtool effective --format json` as a fresh process (cold start included);
  * Codex:   the project's own driver (mdmtool.codex_driver) asking the real Codex, i.e. what
             an admin would otherwise have to do (start Codex and read its policy).
Prints the median wall time of each and the ratio. Needs Codex (scripts/install-deps.sh).

    python benchmarks/effective.py [--runs 5] [CASE ...]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from mdmtool.codex_driver import CodexSetup, find_codex, run_codex  # noqa: E402
from tests.casekit import materialise  # noqa: E402
from tests.oracle_compare import inputs_for  # noqa: E402

DEFAULT_CASES = ["fixtures/oracle_cases/01_plain_user", "fixtures/oracle_cases/13_req_disallow_danger_full_access",
                 "fixtures/oracle_cases/25_unknown_keys", "fixtures/oracle_cases/31_permissions_profile_deny_read"]


def mdmtool_argv(m) -> list[str]:
    inp = inputs_for(m)
    argv = [sys.executable, "-m", "mdmtool", "effective", "--format", "json",
            "--system-dir", inp.system_dir, "--codex-home", inp.codex_home, "--cwd", inp.cwd]
    for o in inp.overrides:
        argv += ["-c", o]
    if inp.profile:
        argv += ["-p", inp.profile]
    if inp.sandbox:
        argv += ["-s", inp.sandbox]
    if inp.approval:
        argv += ["-a", inp.approval]
    for d in inp.add_dirs:
        argv += ["--add-dir", d]
    if inp.search:
        argv.append("--search")
    if inp.yolo:
        argv.append("--yolo")
    return argv


def timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child processes) of one call."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    fn()
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("cases", nargs="*", default=DEFAULT_CASES)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    codex = find_codex()
    if codex is None:
        print("Codex 0.169.0 not found: run scripts/install-deps.sh", file=sys.stderr)
        return 2
    root = tempfile.mkdtemp(prefix="mdmtool-bench-", dir="/var/tmp")
    print("wall time is what a user waits; CPU time is robust when the machine is busy")
    print(f"{'case':<40} {'mdmtool wall':>12} {'codex wall':>11} {'ratio':>6} "
          f"{'mdmtool cpu':>12} {'codex cpu':>10} {'ratio':>6}")
    wall_ratios, cpu_ratios = [], []
    try:
        for case in args.cases:
            m = materialise(os.path.join(ROOT, case), root)
            argv = mdmtool_argv(m)
            subprocess.run(argv, cwd=ROOT, capture_output=True)  # warm the page cache
            ours = [timed(lambda: subprocess.run(argv, cwd=ROOT, capture_output=True)) for _ in range(args.runs)]
            setup = CodexSetup(codex_home=m.codex_home, home=m.home, cwd=m.cwd, system_dir=m.system_dir,
                               profile=m.profile, overrides=m.overrides, flags=m.flags, codex_bin=codex)
            theirs = [timed(lambda: run_codex(setup)) for _ in range(max(1, args.runs // 2))]
            aw, bw = (statistics.median(t[0] for t in x) for x in (ours, theirs))
            ac, bc = (statistics.median(t[1] for t in x) for x in (ours, theirs))
            wall_ratios.append(bw / aw)
            cpu_ratios.append(bc / ac)
            print(f"{os.path.basename(case):<40} {aw * 1000:>10.0f}ms {bw * 1000:>9.0f}ms {bw / aw:>5.1f}x "
                  f"{ac * 1000:>10.0f}ms {bc * 1000:>8.0f}ms {bc / ac:>5.1f}x")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"median ratio, Codex / mdmtool (cold start included): wall {statistics.median(wall_ratios):.1f}x, "
          f"CPU {statistics.median(cpu_ratios):.1f}x  (load average {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
