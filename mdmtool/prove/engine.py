"""Run a proof: stage, plan, run every backend, compare, decide.

``prove(spec)`` takes a resolved :class:`~mdmtool.model.SandboxSpec` (the resolver's
``EffectivePolicy.sandbox``) and returns a :class:`ProveResult`; it never prints and
never decides exit codes beyond :meth:`ProveResult.exit_code`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field

from mdmtool.errors import MdmError
from mdmtool.model import SandboxSpec
from mdmtool.prove import bwrap as bw
from mdmtool.prove import codex_sandbox as cx
from mdmtool.prove import hostside, runner
from mdmtool.prove.layout import NET_PROXY, Layout, from_spec
from mdmtool.prove.probes import FAIL, PREDICTED, SKIP, Outcome, Probe, judge, plan, proxy_hosts
from mdmtool.prove.workspace import Workspace, stage

BWRAP, CODEX, SEATBELT = "bwrap", "codex", "seatbelt"
MARK = "MDMTOOL-PROBES "


@dataclass
class BackendRun:
    name: str
    outcomes: list[Outcome] = field(default_factory=list)
    argv: list[str] = field(default_factory=list)
    rc: int | None = None
    stderr: str = ""
    error: str | None = None
    elapsed_s: float = 0.0
    config: str | None = None
    version: str | None = None

    def to_json(self) -> dict:
        return {"backend": self.name, "version": self.version, "argv": self.argv, "rc": self.rc,
                "error": self.error, "elapsed_s": round(self.elapsed_s, 3),
                "stderr": self.stderr[-2000:], "config": self.config, "probes": [o.to_json() for o in self.outcomes]}


@dataclass
class ProveResult:
    platform: str
    result: str  # pass | fail | unsupported
    workspace: str | None = None
    kept: bool = False
    layout: Layout | None = None
    probes: list[Probe] = field(default_factory=list)
    runs: list[BackendRun] = field(default_factory=list)
    disagreements: list[dict] = field(default_factory=list)
    message: str = ""

    def exit_code(self) -> int:
        return 1 if self.result == "fail" else 0

    def to_json(self) -> dict:
        lay = self.layout
        return {
            "result": self.result, "platform": self.platform, "message": self.message,
            "workspace": self.workspace, "kept": self.kept,
            "layout": None if lay is None else {
                "cwd": lay.cwd, "full_access": lay.full_access, "network": lay.network,
                "writable_roots": lay.writable_roots, "deny_paths": lay.deny_paths,
                "deny_globs": lay.deny_globs, "notes": lay.notes},
            "runs": [r.to_json() for r in self.runs],
            "disagreements": self.disagreements,
        }


def parse_runner_output(stdout: str) -> dict[str, list[str]] | None:
    for line in stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    return None


def _runner_source() -> str:
    with open(runner.__file__, encoding="utf-8") as fh:
        return fh.read()


def _judge_all(probes: list[Probe], observed: dict[str, list[str]] | None, why_missing: str,
               offline_detail: str | None = None) -> list[Outcome]:
    out = []
    for p in probes:
        if offline_detail and p.op in ("proxy", "proxy_env"):
            out.append(Outcome(p, None, offline_detail, PREDICTED))
        elif observed is None or p.id not in observed:
            out.append(Outcome(p, None, why_missing, SKIP))
        else:
            obs, detail = observed[p.id]
            out.append(judge(p, obs, detail))
    return out


def run_bwrap(layout: Layout, ws: Workspace, probes: list[Probe], **build_kw) -> BackendRun:
    """All probes in one bwrap run (the proxy ones are offline predictions here)."""
    t0 = time.monotonic()
    br = BackendRun(BWRAP)
    if not layout.full_access:
        exe = bw.find_bwrap(layout.cwd)
        br.version = bw.bwrap_version(exe) if exe else None
    ops = [p.op_json() for p in probes if p.op not in ("proxy", "proxy_env")]
    lis = hostside.Listeners(os.path.join(ws.run, "probe.sock"))
    observed = None
    try:
        doc = {"ctx": lis.ctx(), "ops": ops}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": ws.home,
               "TMPDIR": ws.tmpdir, "LANG": "C.UTF-8"}
        cmd = bw.python_command(_runner_source()) + [json.dumps(doc)]
        br.argv = [] if layout.full_access else bw.build(layout, **build_kw).args
        r = bw.run(layout, cmd, env, layout.cwd, **build_kw)
        br.rc, br.stderr = r.returncode, r.stderr
        observed = parse_runner_output(r.stdout)
        if observed is None:
            br.error = "the sandbox did not run the probes: " + (
                r.stderr.strip().splitlines() or ["no output"])[-1]
    except MdmError as exc:
        br.error = str(exc)
    finally:
        lis.close()
    br.outcomes = _judge_all(probes, observed, br.error or "not run",
                             "offline decision by mdmtool.network (Codex's proxy runs only "
                             "in the codex backend)")
    br.elapsed_s = time.monotonic() - t0
    return br


def run_codex(codex: str, layout: Layout, ws: Workspace, probes: list[Probe]) -> BackendRun:
    """The same probes through ``codex sandbox`` (a second run for proxy domain rules)."""
    t0 = time.monotonic()
    br = BackendRun(CODEX, version=cx.codex_version(codex))
    cmd = bw.python_command(_runner_source())
    main = [p for p in probes if p.run != "proxy-rules"]
    rules = [p for p in probes if p.run == "proxy-rules"]
    hosts = proxy_hosts(layout.proxy) if layout.network == NET_PROXY and layout.proxy else []
    observed: dict[str, list[str]] = {}
    try:
        res = cx.run(codex, layout, ws, [p.op_json() for p in main], cmd, hosts=hosts)
        br.argv, br.rc, br.stderr, br.config = res["argv"], res["rc"], res["stderr"], res["config"]
        got = parse_runner_output(res["stdout"])
        if got is None:
            br.error = "codex sandbox did not run the probes: " + (
                res["stderr"].strip().splitlines() or ["no output"])[-1]
        else:
            observed.update(got)
        if rules and got is not None:
            net = cx.rules_network(layout.proxy)
            res2 = cx.run(codex, layout, ws, [p.op_json() for p in rules], cmd, network=net,
                          hosts=hosts)
            observed.update(parse_runner_output(res2["stdout"]) or {})
    except MdmError as exc:
        br.error = str(exc)
    br.outcomes = _judge_all(probes, observed if observed else None, br.error or "not run")
    br.elapsed_s = time.monotonic() - t0
    return br


def disagreements(runs: list[BackendRun]) -> list[dict]:
    """Probes two backends observed differently (only where both observed)."""
    out = []
    if len(runs) < 2:
        return out
    base = {o.probe.id: o for o in runs[0].outcomes}
    for other in runs[1:]:
        for o in other.outcomes:
            b = base.get(o.probe.id)
            if b and b.observed is not None and o.observed is not None and b.observed != o.observed:
                out.append({"probe": o.probe.id, runs[0].name: b.observed, other.name: o.observed,
                            f"{runs[0].name}_detail": b.detail, f"{other.name}_detail": o.detail})
    return out


def prove(spec: SandboxSpec, backends: tuple[str, ...] = ("auto",), keep: bool = False,
          codex: str | None = None, home: str | None = None, platform: str | None = None,
          **bwrap_kw) -> ProveResult:
    """Prove ``spec`` on this machine. ``backends``: auto, bwrap, codex, seatbelt.

    ``platform`` defaults to ``sys.platform``; Windows gives a distinct "unsupported"
    result (exit 0), not a failure.
    """
    plat = platform or sys.platform
    if plat.startswith("win") or plat == "cygwin":
        return ProveResult(plat, "unsupported", message=(
            "Windows sandboxes (elevated/unelevated/MXC) cannot be probed by mdmtool yet; "
            "under WSL2 run mdmtool inside the distribution (Linux backend)"))
    if plat == "darwin":
        from mdmtool.prove import seatbelt
        return seatbelt.prove_macos(spec, keep=keep, home=home)
    if not plat.startswith("linux"):
        return ProveResult(plat, "unsupported", message=f"no Codex sandbox backend on {plat}")

    want = set(backends)
    codex_bin = None
    if want & {"auto", CODEX}:
        codex_bin = cx.find_codex(codex)
        if codex_bin is None and CODEX in want:
            raise MdmError("the codex binary was not found (--codex, $CODEX_BIN or PATH)")
    ws = stage(spec, home=home)
    result = ProveResult(plat, "pass", workspace=ws.root, kept=keep)
    try:
        layout = from_spec(ws.spec, tmpdir=ws.tmpdir, home=ws.home)
        result.layout = layout
        result.probes = plan(layout, ws)
        if want & {"auto", BWRAP}:
            result.runs.append(run_bwrap(layout, ws, result.probes, **bwrap_kw))
        if codex_bin:
            result.runs.append(run_codex(codex_bin, layout, ws, result.probes))
    finally:
        if not keep:
            ws.cleanup()
    result.disagreements = disagreements(result.runs)
    failed = any(o.status == FAIL for r in result.runs for o in r.outcomes)
    broken = any(r.error for r in result.runs)
    if failed or broken or result.disagreements or not result.runs:
        result.result = "fail"
    return result
