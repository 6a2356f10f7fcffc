"""Fleet report and rollout impact at scale, side by side with jq.

Generates N `mdmtool effective --format json` documents (benchmarks/fleetgen.py: one real
host tree and resolution per setup, documents re-targeted per host), as a JSON-lines file
and as a directory of one file per host, then times in one run:

* ``mdmtool fleet report --format json`` over the JSON-lines file and over the directory;
* the peer: ``jq`` computing the same core counts (hosts per posture-relevant allow-list,
  refusing hosts, hosts on a fallback, backends unavailable) in one streaming pass;
* ``mdmtool fleet impact --requirements templates/strict/requirements.toml`` (JSON lines).

Prints wall time, documents/s, peak RSS and the mdmtool/jq ratio. The machine is noisy
(about +-25 %): compare the columns of one run. Usage::

    python benchmarks/fleet_report.py [--sizes 10000,100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import fleetgen  # noqa: E402

JQ_PROGRAM = r"""
reduce inputs as $d ({hosts: 0, refusing: 0, on_fallback: 0, backend_unavailable: 0, lists: {}};
  .hosts += 1
  | .refusing += (if $d.ok then 0 else 1 end)
  | .on_fallback += (if ([$d.warnings[]?.message | select(test("falling back"))] | length) > 0
                     then 1 else 0 end)
  | .backend_unavailable += (if $d.sandbox_backend.available == false then 1 else 0 end)
  | .lists[([$d.requirements.allowed_approval_policies, $d.requirements.allowed_sandbox_modes,
             $d.requirements.allowed_web_search_modes] | tostring)] += 1)
"""


def timed(argv: list[str], stdout_path: str | None = None) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MB of this child, exit code)."""
    out = open(stdout_path, "w") if stdout_path else subprocess.DEVNULL
    start = time.perf_counter()
    try:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE,
                                env=dict(os.environ, PYTHONPATH=REPO))
        err = proc.stderr.read().decode(errors="replace")
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if stdout_path:
            out.close()
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{argv[:4]} failed ({proc.returncode}): {err[-500:]}")
    return wall, usage.ru_maxrss / 1024.0, proc.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--keep", help="generate into this directory and keep it")
    ns = ap.parse_args()
    sizes = [int(s) for s in ns.sizes.split(",") if s]
    base = ns.keep or tempfile.mkdtemp(prefix="mdmtool-bench-fleet-", dir="/var/tmp")
    mdmtool = [sys.executable, "-m", "mdmtool"]
    strict = os.path.join(REPO, "templates", "strict", "requirements.toml")
    jq = shutil.which("jq")
    rows = []
    try:
        for n in sizes:
            work = os.path.join(base, str(n))
            shutil.rmtree(work, ignore_errors=True)
            os.makedirs(work)
            jsonl, docs = os.path.join(work, "fleet.jsonl"), os.path.join(work, "docs")
            t0 = time.perf_counter()
            fleetgen.write_fleet(work, n, jsonl=jsonl, out_dir=docs)
            gen = time.perf_counter() - t0
            size_mb = os.path.getsize(jsonl) / 1e6
            print(f"\n{n} documents ({size_mb:.0f} MB as JSON lines), generated in {gen:.1f} s",
                  flush=True)
            r_jsonl = timed(mdmtool + ["fleet", "report", "--format", "json", jsonl],
                            os.path.join(work, "report.json"))
            r_dir = timed(mdmtool + ["fleet", "report", "--format", "json", docs])
            r_csv = timed(mdmtool + ["fleet", "report", jsonl, "--csv", os.path.join(work, "hosts.csv")])
            r_imp = timed(mdmtool + ["fleet", "impact", "--requirements", strict, "--format", "json", jsonl])
            r_jq = timed([jq, "-n", JQ_PROGRAM, jsonl]) if jq else None
            rows.append((n, r_jsonl, r_dir, r_csv, r_imp, r_jq))
            for label, r in (("mdmtool fleet report (jsonl)", r_jsonl),
                             ("mdmtool fleet report (directory)", r_dir),
                             ("mdmtool fleet report + --csv", r_csv),
                             ("mdmtool fleet impact (strict)", r_imp),
                             ("jq, same core counts (jsonl)", r_jq)):
                if r is None:
                    print(f"  {label:34s} (jq not installed)")
                    continue
                print(f"  {label:34s} {r[0]:7.2f} s  {n / r[0]:9.0f} docs/s  peak RSS {r[1]:6.0f} MB")
            if r_jq:
                print(f"  ratio jq / mdmtool report (jsonl): {r_jq[0] / r_jsonl[0]:.2f}x "
                      f"(> 1: mdmtool faster)")
    finally:
        if not ns.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
