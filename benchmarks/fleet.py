"""Fleet benchmark: `mdmtool lint` vs check-jsonschema on the same generated fleet.

Generates N realistic hosts (<host>/etc/codex/config.toml from a few managed templates,
<host>/home/<user>/.codex/config.toml from ~40 user templates, a third of them with
per-user [projects] trust entries, so content is partly unique as in real fleets),
then runs, side by side in one run (interleaved, each tool in a fresh interpreter):

* ``mdmtool lint --requirements REQ --format json <fleet>`` (all cores, cold cache), and
* ``check-jsonschema --schemafile schemas/config.schema.json <every config file>``
  (in batches that fit the command line, as ``xargs`` would run it; 1 process)

measuring wall time, CPU time (user+sys of the tool and its workers) and peak RSS (the
largest single process) and printing the ratios. The machine is shared and noisy:
``--repeat`` runs the tools in interleaved pairs; ratios are the median over the pairs
(each pair saw about the same load), times the fastest run. On a busy Linux host where
the scheduler groups processes by session (autogroup), a session gets one share however
many processes it runs, so the wall-time ratio there tracks the CPU ratio and the pool's
second core shows only on an idle machine. Sizes: 1k and 10k by
default; ``--big`` adds 100k (slow: check-jsonschema needs several minutes there, and
generating the 200k files takes a while). Usage::

    python benchmarks/fleet.py [--sizes 1000,10000] [--big] [--repeat 3] [--schema PATH] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

REQ = """allowed_approval_policies = ["on-request", "never"]
allowed_sandbox_modes = ["read-only", "workspace-write"]
allowed_web_search_modes = ["cached", "disabled"]

[features]
shell_tool = true
"""

SYSTEM = [
    'approval_policy = "on-request"\nsandbox_mode = "workspace-write"\nmodel = "gpt-5"\n',
    'model = "gpt-5"\nweb_search = "cached"\n\n[sandbox_workspace_write]\nexclude_slash_tmp = true\n',
    'approval_policy = "on-request"\nmodel = "gpt-5-codex"\nmodel_reasoning_effort = "high"\n',
]

MODELS = ["gpt-5", "gpt-5-codex", "o3", "gpt-5-mini"]
EFFORT = ["low", "medium", "high"]


def user_templates(rng: random.Random) -> list[str]:
    out = []
    for i in range(40):
        parts = [f'model = "{rng.choice(MODELS)}"', f'model_reasoning_effort = "{rng.choice(EFFORT)}"']
        r = i % 10
        if r == 0:
            parts.append('approval_policy = "never"\nsandbox_mode = "danger-full-access"')
        elif r == 1:
            parts.append('approval_policy = "on-failure"')
        elif r == 2:
            parts.append('sandbox_mode = "workspace-write"\n\n[sandbox_workspace_write]\nnetwork_access = true')
        elif r == 3:
            parts.append('web_search = "live"')
        else:
            parts.append('approval_policy = "on-request"\nsandbox_mode = "workspace-write"')
        parts.append('\n[features]\nshell_tool = true\nunified_exec = true')
        parts.append('\n[tui]\nnotifications = true\n\n[history]\npersistence = "save-all"')
        parts.append('\n[mcp_servers.docs]\ncommand = "npx"\nargs = ["-y", "@acme/docs-mcp@1.4.2"]\n'
                     '\n[mcp_servers.tracker]\nurl = "https://mcp.tracker.example.com/v1"')
        parts.append('\n[shell_environment_policy]\ninherit = "core"\n\n'
                     '[shell_environment_policy.filters]\n"aws_*" = "exclude"\n"*_token" = "exclude"')
        out.append("\n".join(parts) + "\n")
    return out


def generate(root: str, n: int, seed: int = 7) -> int:
    """Write n hosts under root; return the number of config files written."""
    rng = random.Random(seed)
    users = user_templates(rng)
    files = 0
    for i in range(n):
        host = os.path.join(root, f"host{i:06d}")
        user = f"user{i % 997:03d}"
        sysd = os.path.join(host, "etc", "codex")
        os.makedirs(sysd)
        with open(os.path.join(sysd, "config.toml"), "w") as fh:
            fh.write(SYSTEM[i % len(SYSTEM)])
        home = os.path.join(host, "home", user, ".codex")
        os.makedirs(home)
        text = users[rng.randrange(len(users))]
        if rng.random() < 0.33:  # per-user trust entries: unique content
            text += (f'\n[projects."/home/{user}/src/app{i}"]\ntrust_level = "trusted"\n'
                     f'\n[projects."/home/{user}/src/lib"]\ntrust_level = "trusted"\n')
        with open(os.path.join(home, "config.toml"), "w") as fh:
            fh.write(text)
        files += 2
    return files


def measure(cmds: list[list[str]], env: dict | None = None) -> tuple[float, float, float, int, str]:
    """Run ``cmds`` one after the other: (wall s, CPU s, peak RSS MB, worst exit code, stderr tail)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    rc, err = 0, ""
    for cmd in cmds:
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           cwd=ROOT, env=env)
        rc = max(rc, p.returncode)
        err = p.stderr[-300:] or err
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # ru_maxrss of children: the largest process waited for so far, grandchildren (pool
    # workers) included; each measurement runs in a fresh interpreter (see run_one)
    return wall, cpu, after.ru_maxrss / 1024.0, rc, err


def _batches(files: list[str], limit: int = 1_000_000) -> list[list[str]]:
    """Split ``files`` into argument lists that fit on a command line (like xargs)."""
    out, cur, size = [], [], 0
    for f in files:
        if cur and size + len(f) + 1 > limit:
            out.append(cur)
            cur, size = [], 0
        cur.append(f)
        size += len(f) + 1
    if cur:
        out.append(cur)
    return out


def one(tool: str, fleet: str, req: str, schema: str, files_list: str) -> None:
    """Run one tool in this (fresh) process and print 'wall cpu rss rc'."""
    env = dict(os.environ)
    if tool == "mdmtool":
        cache = tempfile.mkdtemp(prefix="mdmtool-bench-cache-")
        env["MDMTOOL_CACHE_DIR"] = cache  # cold: nothing from an earlier run
        cmds = [[sys.executable, "-m", "mdmtool", "lint", "--no-progress", "--requirements", req,
                 "--format", "json", fleet]]
    else:
        cache = None
        with open(files_list) as fh:
            files = fh.read().split("\n")
        cmds = [["check-jsonschema", "--schemafile", schema, *b] for b in _batches(files)]
    try:
        wall, cpu, rss, rc, err = measure(cmds, env)
    finally:
        if cache:
            shutil.rmtree(cache, ignore_errors=True)
    print(f"{wall:.3f} {cpu:.3f} {rss:.1f} {rc}")
    if rc not in (0, 1):
        print(err, file=sys.stderr)


def run_one(tool: str, fleet: str, req: str, schema: str, files_list: str) -> tuple[float, float, float, int]:
    out = subprocess.run([sys.executable, __file__, "--one", tool, fleet, req, schema, files_list],
                         capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0 or not out.stdout.strip():
        raise SystemExit(f"benchmark child failed: {out.stderr}")
    wall, cpu, rss, rc = out.stdout.split()
    if int(rc) not in (0, 1):
        raise SystemExit(f"{tool} failed (exit {rc}): {out.stderr}")
    return float(wall), float(cpu), float(rss), int(rc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--big", action="store_true", help="also run 100,000 hosts (slow)")
    ap.add_argument("--repeat", type=int, default=1, help="interleaved runs per tool; fastest kept")
    ap.add_argument("--schema", default=os.path.join(ROOT, "schemas", "config.schema.json"))
    ap.add_argument("--no-peer", action="store_true", help="skip check-jsonschema")
    ap.add_argument("--keep", help="generate into this directory and keep it (reused if present)")
    ap.add_argument("--one", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        one(*args.one)
        return
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.big and 100_000 not in sizes:
        sizes.append(100_000)
    peer = not args.no_peer
    if peer and not os.path.isfile(args.schema):
        print(f"schema {args.schema} not found: pass --schema PATH or --no-peer", file=sys.stderr)
        raise SystemExit(2)
    if peer and shutil.which("check-jsonschema") is None:
        print("check-jsonschema not installed (pip install check-jsonschema)", file=sys.stderr)
        raise SystemExit(2)
    base = args.keep or tempfile.mkdtemp(prefix="mdmtool-fleet-bench-")
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start; "
          f"{max(1, args.repeat)} interleaved pair(s) of runs per size")
    print(f"{'hosts':>7} {'files':>7} | {'mdmtool s':>9} {'cpu s':>6} {'MB':>4} | "
          f"{'check-jsonschema s':>18} {'cpu s':>6} {'MB':>4} | {'speed-up':>8} {'cpu ratio':>9} "
          f"{'mem ratio':>9}", flush=True)
    try:
        for n in sizes:
            fleet = os.path.join(base, f"fleet-{n}")
            stamp = os.path.join(base, f"fleet-{n}.done")
            if not (args.keep and os.path.exists(stamp)):
                shutil.rmtree(fleet, ignore_errors=True)
                os.makedirs(fleet)
                generate(fleet, n)
                open(stamp, "w").close()
            nfiles = 2 * n
            req = os.path.join(base, f"requirements-{n}.toml")
            with open(req, "w") as fh:
                fh.write(REQ)
            files_list = os.path.join(base, f"files-{n}.txt")
            with open(files_list, "w") as fh:
                fh.write("\n".join(sorted(os.path.join(dp, f) for dp, _, fs in os.walk(fleet)
                                          for f in fs if f == "config.toml")))
            best: dict[str, tuple] = {}
            ratios: list[tuple[float, float]] = []  # (wall, cpu) of each interleaved pair
            for r in range(max(1, args.repeat)):
                tools = ["mdmtool", "check-jsonschema"] if peer else ["mdmtool"]
                if r % 2:
                    tools.reverse()
                got = {}
                for tool in tools:
                    got[tool] = res = run_one(tool, fleet, req, args.schema, files_list)
                    if tool not in best or res[0] < best[tool][0]:
                        best[tool] = res
                if peer:
                    m, c = got["mdmtool"], got["check-jsonschema"]
                    ratios.append((c[0] / m[0], c[1] / m[1]))
            mw, mc, mrss, _ = best["mdmtool"]
            if peer:
                cw, cc, crss, _ = best["check-jsonschema"]
                wr = statistics.median(r[0] for r in ratios)
                cr = statistics.median(r[1] for r in ratios)
                print(f"{n:>7} {nfiles:>7} | {mw:>9.2f} {mc:>6.2f} {mrss:>4.0f} | {cw:>18.2f} {cc:>6.2f} "
                      f"{crss:>4.0f} | {wr:>7.1f}x {cr:>8.1f}x {mrss / crss:>8.2f}x", flush=True)
            else:
                print(f"{n:>7} {nfiles:>7} | {mw:>9.2f} {mc:>6.2f} {mrss:>4.0f} | {'-':>18} {'-':>6} "
                      f"{'-':>4} |", flush=True)
            if not args.keep:
                shutil.rmtree(fleet, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print("mdmtool: every host linted with all rules incl. the resolver, --format json streamed, "
          "all cores; check-jsonschema: schema validation only, one process. Times: the fastest "
          "run of each tool; speed-up and cpu ratio: median over the interleaved pairs of "
          "check-jsonschema / mdmtool wall and CPU seconds; peak RSS = largest single process. "
          f"Load average at end {os.getloadavg()[0]:.1f}.")


if __name__ == "__main__":
    main()
