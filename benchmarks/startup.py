"""Cold start of `mdmtool --version`, `mdmtool effective` and `mdmtool validate` vs `python -c pass`.

Every command runs as a fresh process of the same interpreter (so site-packages `.pth`
start-up cost is in the peer too), interleaved round-robin so load from other processes
hits all of them alike. Prints the median wall time of each and its ratio to the peer.
The goal (issue 8): `effective` at most 4x `python -c pass`. Two more rows show what that
ratio rests on: `python -S -c pass` (the interpreter without site-packages' .pth files,
which some installs make expensive) and `import typer` (the CLI framework alone, the
floor for every command but `--version`, `effective` and `explain`, which mdmtool.entry
parses without it).

    python benchmarks/startup.py [--runs 30] [--no-warm]

`effective` runs on a simple machine (a system requirements.toml, a user config.toml,
a trusted project) with the schema-check cache warmed by one untimed run, as it is on
a machine where mdmtool ran before; `validate` checks that machine's two files.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_machine(base: str) -> dict[str, str]:
    sysdir, home, proj = (os.path.join(base, d) for d in ("etc", "home", "proj"))
    for d in (sysdir, home, os.path.join(proj, ".git"), os.path.join(proj, ".codex")):
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(sysdir, "requirements.toml"), "w") as fh:
        fh.write('allowed_approval_policies = ["on-request", "untrusted"]\n'
                 'allowed_sandbox_modes = ["read-only", "workspace-write"]\n')
    with open(os.path.join(home, "config.toml"), "w") as fh:
        fh.write('model = "gpt-5"\napproval_policy = "on-request"\nsandbox_mode = "workspace-write"\n'
                 f'[projects."{proj}"]\ntrust_level = "trusted"\n')
    with open(os.path.join(proj, ".codex", "config.toml"), "w") as fh:
        fh.write('[sandbox_workspace_write]\nnetwork_access = false\n')
    return {"sys": sysdir, "home": home, "proj": proj}


def commands(m: dict[str, str]) -> dict[str, list[str]]:
    py = sys.executable
    mdm = [py, "-m", "mdmtool"]
    return {
        "python -c pass": [py, "-c", "pass"],
        "python -S -c pass": [py, "-S", "-c", "pass"],  # no site: what .pth files cost
        "import typer": [py, "-c", "import typer"],  # the CLI framework's floor
        "mdmtool --version": mdm + ["--version"],
        "mdmtool effective": mdm + ["effective", "--system-dir", m["sys"], "--codex-home", m["home"],
                                    "--cwd", m["proj"]],
        "mdmtool validate": mdm + ["validate", os.path.join(m["sys"], "requirements.toml"),
                                   os.path.join(m["home"], "config.toml")],
    }


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child: user + system, less disturbed by load)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30, help="timed runs of each command (default 30)")
    ap.add_argument("--no-warm", action="store_true",
                    help="run effective/validate with the cache disabled (MDMTOOL_NO_CACHE=1)")
    args = ap.parse_args()
    # byte-compiled as a wheel install is (PYTHONDONTWRITEBYTECODE would leave stale .pyc)
    compileall.compile_dir(os.path.join(ROOT, "mdmtool"), quiet=1)
    with tempfile.TemporaryDirectory(prefix="mdmtool-startup-") as base:
        m = make_machine(base)
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   MDMTOOL_CACHE_DIR=os.path.join(base, "cache"))
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # time what users run: cached bytecode
        if args.no_warm:
            env["MDMTOOL_NO_CACHE"] = "1"
        cmds = commands(m)
        for argv in cmds.values():  # warm: page cache, .pyc files, the schema-check cache
            run_once(argv, env)
        times: dict[str, list[float]] = {name: [] for name in cmds}
        cpus: dict[str, list[float]] = {name: [] for name in cmds}
        for _ in range(args.runs):
            for name, argv in cmds.items():
                wall, cpu = run_once(argv, env)
                times[name].append(wall)
                cpus[name].append(cpu)
    peer = statistics.median(times["python -c pass"])
    peer_cpu = statistics.median(cpus["python -c pass"])
    print(f"{args.runs} interleaved runs each (cache {'off' if args.no_warm else 'warm'}); "
          f"machine load {os.getloadavg()[0]:.1f}")
    print(f"{'command':<20} {'wall median':>11} {'wall min':>9} {'ratio':>6}   {'CPU median':>10} {'ratio':>6}")
    for name in cmds:
        med, cmed = statistics.median(times[name]), statistics.median(cpus[name])
        print(f"{name:<20} {med * 1000:9.1f}ms {min(times[name]) * 1000:7.1f}ms {med / peer:5.2f}x"
              f"   {cmed * 1000:8.1f}ms {cmed / peer_cpu:5.2f}x")
    eff = statistics.median(times["mdmtool effective"]) / peer
    eff_cpu = statistics.median(cpus["mdmtool effective"]) / peer_cpu
    print(f"goal: effective <= 4x python -c pass: {'met' if eff <= 4 else 'MISSED'} "
          f"(wall {eff:.2f}x, CPU {eff_cpu:.2f}x)")
    own = statistics.median(cpus["mdmtool effective"]) - peer_cpu
    print(f"effective beyond the interpreter (its fast path imports no Typer): {own * 1000:.1f} ms CPU; "
          f"site/.pth files cost "
          f"{(peer_cpu - statistics.median(cpus['python -S -c pass'])) * 1000:.1f} ms CPU of the peer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
