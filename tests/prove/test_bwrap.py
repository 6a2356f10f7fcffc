"""The bwrap command line equals what Codex 0.169 ran (argv captured with strace by the
oracle, fixtures/prove/enforcement_results_0.169.0.json), mount for mount."""

from __future__ import annotations

import json
import os

import pytest

from mdmtool.model import FsEntry, SandboxSpec
from mdmtool.prove import bwrap as bw
from mdmtool.prove.layout import from_spec

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "..", "fixtures", "prove", "enforcement_results_0.169.0.json")
ORACLE_ROOT = "/var/tmp/codex-oracle-enf"
ARITY = {"--perms": 1, "--ro-bind": 2, "--bind": 2, "--dev": 1, "--tmpfs": 1, "--remount-ro": 1,
         "--ro-bind-data": 2, "--proc": 1, "--cap-drop": 1, "--seccomp": 1}


def groups(argv: list[str], root: str) -> list[tuple[str, ...]]:
    """bwrap argv -> mount operations (``--perms`` joined to the next op, ``--remount-ro`` to
    its tmpfs), with Codex-only bookkeeping mounts (daemon dir, synthetic targets) dropped."""
    args = argv[1:argv.index("--")]
    out, i, pending = [], 0, ()
    while i < len(args):
        op = args[i]
        n = ARITY.get(op, 0)
        item = (op, *[a.replace(root, "<R>") for a in args[i + 1:i + 1 + n]])
        i += 1 + n
        if op == "--perms":
            pending = item
            continue
        if op == "--remount-ro" and out and out[-1][-2:] == ("--tmpfs", item[1]):
            out[-1] = out[-1] + item
            continue
        item, pending = pending + item, ()
        if "codex-daemon" in " ".join(item) or "synthetic-mount-targets" in " ".join(item):
            continue
        if item[0] == "--seccomp":
            continue
        out.append(_protected(item))
    return out


def _protected(item: tuple[str, ...]) -> tuple[str, ...]:
    """Existing metadata is re-bound, a missing/empty one gets a placeholder: both mean
    "read-only" and which one applies depends on the host's /tmp, so compare the meaning."""
    if item[0] == "--ro-bind" and os.path.basename(item[1]) in (".git", ".codex", ".agents", ".aws"):
        return ("read-only", item[1])
    if item[:2] == ("--perms", "555") and item[2] == "--tmpfs":
        return ("read-only", item[3])
    return item


def oracle(policy: str) -> list[str]:
    with open(FIXTURE, encoding="utf-8") as fh:
        for entry in json.load(fh):
            if entry["policy"] == policy:
                return entry["bwrap_argv_seen"]
    raise KeyError(policy)


@pytest.fixture
def enf(case_root):
    """The oracle's layout: ws/ (empty .git/, private/), secret/."""
    for d in ("ws/.git", "ws/private", "secret", "outside"):
        os.makedirs(os.path.join(case_root, d))
    return case_root


def build(root, **spec_kw):
    spec = SandboxSpec(cwd=os.path.join(root, "ws"), **spec_kw)
    lay = from_spec(spec, tmpdir=None)
    return bw.build(lay, "bwrap", daemon_dir=None).args


CASES = [
    ("codex sandbox -P :read-only", dict(mode="read-only")),
    ("codex sandbox -P :workspace", dict(mode="workspace-write")),
    ("codex sandbox -c sandbox_mode=workspace-write -c sandbox_workspace_write.network_access=true",
     dict(mode="workspace-write", network_access=True)),
    ("codex sandbox -P locked (filesystem \"none\" entries)",
     dict(mode="workspace-write", fs_entries=[FsEntry("deny", path="@R@/secret"),
                                              FsEntry("deny", path=":workspace_roots/private")])),
]


@pytest.mark.parametrize("policy,spec_kw", CASES, ids=[c[0] for c in CASES])
def test_mounts_match_codex(enf, policy, spec_kw):
    if spec_kw.get("fs_entries"):
        spec_kw = dict(spec_kw, fs_entries=[FsEntry(e.access, path=e.path.replace("@R@", enf))
                                            for e in spec_kw["fs_entries"]])
    mine = groups(build(enf, **spec_kw), enf)
    theirs = groups(oracle(policy), ORACLE_ROOT)
    assert sorted(mine) == sorted(theirs)
    # namespace flags and their order are identical
    tail = [g for g in mine if g[0].startswith("--unshare") or g[0] in ("--proc", "--cap-drop")]
    assert tail == [g for g in theirs if g[0].startswith("--unshare") or g[0] in ("--proc", "--cap-drop")]


def test_seccomp_descriptor_and_deny_file_data(case_root):
    ws = os.path.join(case_root, "ws")
    os.makedirs(ws)
    with open(os.path.join(ws, "a.env"), "w") as fh:
        fh.write("x")
    lay = from_spec(SandboxSpec(mode="workspace-write", cwd=ws, fs_entries=[
        FsEntry("deny", glob=":workspace_roots/**/*.env")]), tmpdir=None)
    plan = bw.build(lay, "bwrap", daemon_dir=None)
    a = plan.args
    i = a.index(os.path.join(ws, "a.env"))
    assert a[i - 3:i] == ["000", "--ro-bind-data", bw.DATA]     # Codex: --perms 000 --ro-bind-data FD
    assert a[a.index("--seccomp") + 1] == bw.SECCOMP and plan.seccomp_mode == "restricted"
    assert os.path.join(ws, ".codex") in plan.creates           # placeholder mount point


def test_full_access_has_no_bwrap(case_root):
    lay = from_spec(SandboxSpec(mode="danger-full-access", cwd=case_root), tmpdir=None)
    assert bw.seccomp_mode(lay) is None


def test_find_bwrap_skips_workspace_copy(case_root, monkeypatch):
    fake = os.path.join(case_root, "bwrap")
    with open(fake, "w") as fh:
        fh.write("#!/bin/sh\n")
    os.chmod(fake, 0o755)
    monkeypatch.setenv("PATH", case_root + os.pathsep + os.environ.get("PATH", ""))
    found = bw.find_bwrap(case_root)
    assert found != fake


RECORDED = {  # oracle policy -> (spec kwargs, its probe -> our probe)
    "codex sandbox -P :read-only": dict(mode="read-only"),
    "codex sandbox -P :workspace": dict(mode="workspace-write"),
    "codex sandbox -c sandbox_mode=workspace-write -c sandbox_workspace_write.network_access=true":
        dict(mode="workspace-write", network_access=True),
    "codex sandbox -P locked (filesystem \"none\" entries)":
        dict(mode="workspace-write", fs_entries=[FsEntry("deny", path="/srv/secret"),
                                                 FsEntry("deny", path=":workspace_roots/private")]),
    "codex sandbox -c sandbox_mode=danger-full-access": dict(mode="danger-full-access",
                                                            network_access=True),
}
PROBE_MAP = {"write_workspace": "fs.write.workspace", "write_outside": "fs.write.sibling",
             "write_dot_git": "fs.write.protected[.git]", "write_tmp": "fs.write.slash_tmp",
             "net_loopback_host": "net.loopback"}


@pytest.mark.bwrap
@pytest.mark.parametrize("policy", sorted(RECORDED))
def test_observations_equal_recorded_codex(bwrap_ok, policy):
    """Our bwrap backend observes what real Codex 0.169 observed for the same policy."""
    from mdmtool.prove.engine import prove
    result = prove(SandboxSpec(cwd="/home/alice/ws", **RECORDED[policy]), backends=("bwrap",))
    ours = {o.probe.id: o for o in result.runs[0].outcomes}
    with open(FIXTURE, encoding="utf-8") as fh:
        theirs = next(e for e in json.load(fh) if e["policy"] == policy)["probes"]
    for their_id, our_id in PROBE_MAP.items():
        assert ours[our_id].observed == theirs[their_id].split()[0], (their_id, ours[our_id].detail)
        if "Operation not permitted" in theirs[their_id]:
            assert "EPERM" in ours[our_id].detail                  # same mechanism: seccomp
    denied_reads = [o.observed for k, o in ours.items() if k.startswith("fs.read.deny")]
    expected = theirs["read_denied_path"].split()[0]
    assert all(v == expected for v in denied_reads) and (denied_reads or expected == "allowed")
    assert result.result == "pass"
