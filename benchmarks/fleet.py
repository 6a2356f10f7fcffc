"""Fleet benchmark: `mdmtool lint` vs check-jsonschema on the same generated fleet.

Generates N realistic hosts (<host>/etc/codex/config.toml from a few managed templates,
<host>/home/<user>/.codex/config.toml from ~40 user templates, a third of them with
per-user [projects] trust entries, so content is partly unique as in real fleets),
then runs, side by side in one run:

* ``mdmtool lint --requirements REQ --format json <fleet>`` (all cores), and
* ``check-jsonschema --schemafile schemas/config.schema.json <every config file>``

measuring wall time and peak RSS (of the child and its workers) and printing the ratio.
Sizes: 1k and 10k by default; ``--big`` adds 100k (several minutes: check-jsonschema
alone needs ~3 min per 10k... times 10). Usage::

    python benchmarks/fleet.py [--sizes 1000,10000] [--big] [--schema PATH] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
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


def measure(cmd: list[str], **kw) -> tuple[float, float, int, str]:
    """(wall seconds, peak RSS MB of children, exit code, stderr tail)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kw)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the max over all waited-for children so far: run the smaller
    # measurements first or use a fresh interpreter per measurement (we do: see main()).
    return wall, max(after, before) / 1024.0, p.returncode, p.stderr[-300:]


def one(tool: str, fleet: str, req: str, schema: str, files_list: str) -> None:
    """Run one tool in this (fresh) process and print 'wall rss rc'."""
    if tool == "mdmtool":
        cmd = [sys.executable, "-m", "mdmtool", "lint", "--no-progress", "--requirements", req,
               "--format", "json", fleet]
    else:
        with open(files_list) as fh:
            files = fh.read().split("\n")
        cmd = ["check-jsonschema", "--schemafile", schema, *files]
    wall, rss, rc, err = measure(cmd, cwd=ROOT)
    print(f"{wall:.3f} {rss:.1f} {rc}")
    if rc not in (0, 1):
        print(err, file=sys.stderr)


def run_one(tool: str, fleet: str, req: str, schema: str, files_list: str) -> tuple[float, float, int]:
    out = subprocess.run([sys.executable, __file__, "--one", tool, fleet, req, schema, files_list],
                         capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0 or not out.stdout.strip():
        raise SystemExit(f"benchmark child failed: {out.stderr}")
    wall, rss, rc = out.stdout.split()
    return float(wall), float(rss), int(rc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--big", action="store_true", help="also run 100,000 hosts (slow)")
    ap.add_argument("--schema", default=os.path.join(ROOT, "schemas", "config.schema.json"))
    ap.add_argument("--no-peer", action="store_true", help="skip check-jsonschema")
    ap.add_argument("--keep", help="generate into this directory and keep it")
    ap.add_argument("--one", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        one(*args.one)
        return
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.big:
        sizes.append(100_000)
    peer = not args.no_peer
    if peer and not os.path.isfile(args.schema):
        print(f"schema {args.schema} not found: pass --schema PATH or --no-peer", file=sys.stderr)
        raise SystemExit(2)
    if peer and shutil.which("check-jsonschema") is None:
        print("check-jsonschema not installed (pip install check-jsonschema)", file=sys.stderr)
        raise SystemExit(2)
    base = args.keep or tempfile.mkdtemp(prefix="mdmtool-fleet-bench-")
    print(f"{'hosts':>8} {'files':>7} | {'mdmtool s':>9} {'MB':>6} | {'check-jsonschema s':>18} {'MB':>6} | "
          f"{'speed-up':>8} {'mem ratio':>9}")
    try:
        for n in sizes:
            fleet = os.path.join(base, f"fleet-{n}")
            shutil.rmtree(fleet, ignore_errors=True)
            os.makedirs(fleet)
            nfiles = generate(fleet, n)
            req = os.path.join(base, f"requirements-{n}.toml")
            with open(req, "w") as fh:
                fh.write(REQ)
            files_list = os.path.join(base, f"files-{n}.txt")
            with open(files_list, "w") as fh:
                fh.write("\n".join(os.path.join(dp, f) for dp, _, fs in os.walk(fleet)
                                   for f in fs if f == "config.toml"))
            mw, mrss, mrc = run_one("mdmtool", fleet, req, args.schema, files_list)
            if peer:
                cw, crss, crc = run_one("check-jsonschema", fleet, req, args.schema, files_list)
                print(f"{n:>8} {nfiles:>7} | {mw:>9.2f} {mrss:>6.0f} | {cw:>18.2f} {crss:>6.0f} | "
                      f"{cw / mw:>7.1f}x {mrss / crss:>8.2f}x")
            else:
                print(f"{n:>8} {nfiles:>7} | {mw:>9.2f} {mrss:>6.0f} | {'-':>18} {'-':>6} |")
            if not args.keep:
                shutil.rmtree(fleet, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print("mdmtool: hosts linted with all rules incl. resolver (--format json, all cores); "
          "peak RSS = largest single process (parent or one worker).")


if __name__ == "__main__":
    main()
