"""How fast `mdmtool effective` answers a case, next to the real Codex 0.169.0.

Runs, side by side in one run, for each case:
  * mdmtool: the `mdmtool effective --format json` console script as a fresh process (cold
             start included; the package is byte-compiled first, as a wheel install is);
  * oracle:  real Codex through the shared oracle harness (../shared/oracle/codex_effective.py,
             the reference the resolver issue names: ~0.7-1.1 s), when it is beside the project
             or given with --oracle; a peer measurement, not part of the project;
  * driver:  the project's own Codex driver (mdmtool.codex_driver): the fastest way we know to
             make the real Codex say its policy (one app-server session, no CLI views).
Prints the median wall and CPU time of each and the ratios. Needs Codex
(scripts/install-deps.sh).

    python benchmarks/effective.py [--runs 5] [--oracle DIR] [CASE ...]
"""

from __future__ import annotations

import argparse
import compileall
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


def mdmtool_command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m mdmtool``."""
    script = os.path.join(os.path.dirname(sys.executable), "mdmtool")
    return [script] if os.access(script, os.X_OK) else [sys.executable, "-m", "mdmtool"]


def mdmtool_argv(m) -> list[str]:
    inp = inputs_for(m)
    argv = mdmtool_command() + ["effective", "--format", "json",
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


def median_times(fn, runs: int) -> tuple[float, float]:
    samples = [timed(fn) for _ in range(runs)]
    return statistics.median(t[0] for t in samples), statistics.median(t[1] for t in samples)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("cases", nargs="*", default=DEFAULT_CASES)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--oracle", default=os.path.join(os.path.dirname(ROOT), "shared", "oracle"),
                    help="directory of the shared oracle (codex_effective.py); skipped if absent")
    args = ap.parse_args()
    codex = find_codex()
    if codex is None:
        print("Codex 0.169.0 not found: run scripts/install-deps.sh", file=sys.stderr)
        return 2
    oracle = os.path.join(args.oracle, "codex_effective.py")
    oracle = oracle if os.path.isfile(oracle) else None
    compileall.compile_dir(os.path.join(ROOT, "mdmtool"), quiet=1)
    root = tempfile.mkdtemp(prefix="mdmtool-bench-", dir="/var/tmp")
    print("wall time is what a user waits; CPU time is robust when the machine is busy")
    print(f"{'case':<36} {'mdmtool':>8} {'oracle':>8} {'ratio':>6} {'driver':>8} {'ratio':>6}   "
          f"{'cpu: mdmtool':>12} {'oracle':>7} {'driver':>7}")
    ratios: dict[str, list[float]] = {"oracle": [], "driver": [], "oracle cpu": [], "driver cpu": []}
    try:
        for case in args.cases:
            m = materialise(os.path.join(ROOT, case), root)
            argv = mdmtool_argv(m)
            env = dict(os.environ, PYTHONPATH=ROOT)  # this checkout, whatever is installed
            subprocess.run(argv, cwd=ROOT, capture_output=True, env=env)  # warm the page cache
            ours = median_times(lambda: subprocess.run(argv, cwd=ROOT, capture_output=True, env=env),
                                args.runs)
            setup = CodexSetup(codex_home=m.codex_home, home=m.home, cwd=m.cwd, system_dir=m.system_dir,
                               profile=m.profile, overrides=m.overrides, flags=m.flags, codex_bin=codex)
            peer_runs = max(1, args.runs // 2)
            driver = median_times(lambda: run_codex(setup), peer_runs)
            cells = {"driver": driver}
            if oracle:
                env = dict(os.environ, CODEX_BIN=codex)
                cmd = [sys.executable, oracle, os.path.join(ROOT, case)]
                cells["oracle"] = median_times(lambda: subprocess.run(cmd, env=env, capture_output=True),
                                               peer_runs)
            for name, (wall, cpu) in cells.items():
                ratios[name].append(wall / ours[0])
                ratios[name + " cpu"].append(cpu / ours[1])
            o = cells.get("oracle")
            ms = lambda x: f"{x * 1000:>6.0f}ms"  # noqa: E731
            print(f"{os.path.basename(case):<36} {ms(ours[0])} {ms(o[0]) if o else '       -'} "
                  f"{(f'{o[0] / ours[0]:>5.1f}x') if o else '     -'} {ms(driver[0])} {driver[0] / ours[0]:>5.1f}x   "
                  f"{ms(ours[1]):>12} {ms(o[1]) if o else '      -'} {ms(driver[1])}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in ratios.items() if v}
    if "oracle" in med:
        print(f"median ratio, real Codex through the oracle / mdmtool (cold start included): "
              f"wall {med['oracle']:.1f}x, CPU {med['oracle cpu']:.1f}x")
    else:
        print("oracle not found (--oracle DIR): only the driver was timed")
    print(f"median ratio, real Codex through our driver / mdmtool: wall {med['driver']:.1f}x, "
          f"CPU {med['driver cpu']:.1f}x  (load average {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
