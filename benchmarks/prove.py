"""How long `mdmtool prove` takes per policy: the Linux probe suite (bubblewrap + seccomp,
all probes in one sandboxed process) next to the same probes through `codex sandbox`.

For each required policy (read-only, workspace-write with network off/on, a named profile
with deny-read globs, danger-full-access) it runs, side by side:
  * bwrap: ``prove(spec, backends=("bwrap",))`` -- staging, bwrap run, judging, cleanup;
  * codex: the same plan through Codex's own backend (``codex sandbox -P``, in a
    loopback-only namespace), the way prove cross-checks when Codex is installed;
and prints the median wall time of each and the ratio codex/bwrap. The target is about
1 s for the whole bwrap suite. Codex is optional (skipped when not found).

    python benchmarks/prove.py [--runs 5] [--codex BIN]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from mdmtool.prove import codex_sandbox as cx  # noqa: E402
from mdmtool.prove.engine import prove, run_codex  # noqa: E402
from mdmtool.prove.layout import from_spec  # noqa: E402
from mdmtool.prove.probes import plan  # noqa: E402
from mdmtool.prove.workspace import stage  # noqa: E402
from tests.prove.policies import REQUIRED  # noqa: E402


def time_bwrap(spec) -> float:
    t0 = time.perf_counter()
    r = prove(spec, backends=("bwrap",))
    dt = time.perf_counter() - t0
    if r.result != "pass":
        raise SystemExit(f"bwrap suite failed: {[o.probe.id for o in r.runs[0].outcomes if o.status == 'fail']}")
    return dt


def time_codex(spec, codex: str) -> float:
    ws = stage(spec)
    try:
        lay = from_spec(ws.spec, tmpdir=ws.tmpdir, home=ws.home)
        probes = plan(lay, ws)
        t0 = time.perf_counter()
        run = run_codex(codex, lay, ws, probes)
        dt = time.perf_counter() - t0
    finally:
        ws.cleanup()
    if run.error:
        raise SystemExit(f"codex sandbox failed: {run.error}")
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--codex", help="Codex binary (default: $CODEX_BIN, codex on PATH, npm cache)")
    opts = ap.parse_args()
    codex = cx.find_codex(opts.codex)
    print(f"runs per policy: {opts.runs}; codex: {codex or 'not found (bwrap only)'}")
    print(f"{'policy':28} {'bwrap s':>9} {'codex s':>9} {'codex/bwrap':>12}")
    tot_b = tot_c = 0.0
    for name, spec in REQUIRED.items():
        time_bwrap(spec)  # warm caches (python, bwrap binary)
        b = statistics.median(time_bwrap(spec) for _ in range(opts.runs))
        tot_b += b
        if codex:
            c = statistics.median(time_codex(spec, codex) for _ in range(opts.runs))
            tot_c += c
            print(f"{name:28} {b:9.3f} {c:9.3f} {c / b:11.1f}x")
        else:
            print(f"{name:28} {b:9.3f} {'-':>9} {'-':>12}")
    print(f"{'whole suite':28} {tot_b:9.3f} " + (f"{tot_c:9.3f} {tot_c / tot_b:11.1f}x" if codex else ""))
    print(f"per policy (mean): bwrap {tot_b / len(REQUIRED):.3f} s"
          + (f", codex {tot_c / len(REQUIRED):.3f} s" if codex else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
