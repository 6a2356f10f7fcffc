"""The throw-away world the probes run in: stand-ins for every path a policy names.

The real home, ``/etc`` and the user's repositories are never touched. Every absolute
path of the policy is mirrored under ``<root>/fs`` (``/home/a/repo`` ->
``<root>/fs/home/a/repo``), which keeps nesting intact (a repo inside the home, a deny
inside the workspace). ``/tmp`` stays the real ``/tmp`` because Codex binds the real one
(probes only create and remove one uniquely named file there); ``$TMPDIR`` is a fresh
directory handed to the sandboxed command. The root lives under ``/var/tmp`` so it is
neither under ``/tmp`` nor under ``$TMPDIR`` (Codex refuses a CODEX_HOME there).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field

from mdmtool.errors import MdmError
from mdmtool.model import FsEntry, SandboxSpec
from mdmtool.prove.layout import is_glob, scoped, static_prefix
from mdmtool.record import replace

SECRET_NAME = "mdmtool-secret.txt"


@dataclass
class Workspace:
    """Paths of one proof run; ``spec`` is the policy re-pointed at the stand-ins."""

    root: str
    spec: SandboxSpec
    home: str
    etc: str
    sibling: str
    tmpdir: str
    run: str
    codex_home: str
    deny_targets: dict[str, str] = field(default_factory=dict)  # deny path -> file to read
    glob_samples: dict[str, list[str]] = field(default_factory=dict)  # glob -> sample files

    def cleanup(self) -> None:
        _rmtree(self.root)


def base_dir() -> str:
    """Where proof roots go: $MDMTOOL_PROVE_DIR, else /var/tmp (never under /tmp/$TMPDIR)."""
    base = os.environ.get("MDMTOOL_PROVE_DIR") or "/var/tmp"
    real = os.path.realpath(base)
    for tmp in {"/tmp", os.path.realpath("/tmp"), os.environ.get("TMPDIR") or "/tmp"}:
        t = os.path.realpath(tmp)
        if real == t or real.startswith(t.rstrip("/") + "/"):
            raise MdmError(f"proof directory {base} lies under {tmp}, which the policy may make "
                           "writable; set MDMTOOL_PROVE_DIR to another directory")
    if not os.path.isdir(real) or not os.access(real, os.W_OK):
        raise MdmError(f"proof directory {base} is not a writable directory; "
                       "set MDMTOOL_PROVE_DIR")
    return real


def stage(spec: SandboxSpec, home: str | None = None) -> Workspace:
    """Create the stand-ins for ``spec`` and return the re-pointed policy."""
    home = home or os.path.expanduser("~")
    root = tempfile.mkdtemp(prefix="mdmtool-prove-", dir=base_dir())
    try:
        return _stage(spec, root, home)
    except BaseException:
        _rmtree(root)
        raise


def _stage(spec: SandboxSpec, root: str, home: str) -> Workspace:
    fs = os.path.join(root, "fs")

    def m(path: str) -> str:
        """Mirror one policy path (``~``, relative and glob tails kept) under ``fs``."""
        if path == "~" or path.startswith("~/"):
            path = home + path[1:]
        if path.startswith(":") or not os.path.isabs(path):
            return path  # relative to each workspace root: follows the staged roots
        norm = path if is_glob(path) else os.path.normpath(path)
        return fs + norm

    cwd = os.path.normpath(os.path.abspath(spec.cwd))
    staged = replace(
        spec, cwd=m(cwd), writable_roots=[m(r) for r in spec.writable_roots],
        fs_entries=[FsEntry(access=e.access, special=e.special,
                            path=m(e.path) if e.path else None,
                            glob=m(e.glob) if e.glob else None) for e in spec.fs_entries],
        deny_read=[m(d) for d in spec.deny_read])
    ws = Workspace(root=root, spec=staged, home=m(home), etc=fs + "/etc",
                   sibling=m(os.path.join(os.path.dirname(cwd) or "/",
                                          os.path.basename(cwd) + "-sibling")),
                   tmpdir=os.path.join(root, "tmpdir"), run=os.path.join(root, "run"),
                   codex_home=os.path.join(root, "codex_home"))
    write_paths = [e.path for e in staged.fs_entries if e.access == "write" and e.path
                   and scoped(e.path) is None and not is_glob(e.path)]
    for d in (staged.cwd, ws.home, ws.etc, ws.sibling, ws.tmpdir, ws.run, ws.codex_home,
              *staged.writable_roots, *write_paths):
        os.makedirs(d, exist_ok=True)
    _write(os.path.join(staged.cwd, ".git", "HEAD"), "ref: refs/heads/main\n")
    _write(os.path.join(staged.cwd, "README.md"), "mdmtool prove workspace\n")
    _write(os.path.join(staged.cwd, "sub", "README.md"), "nested directory\n")
    _write(os.path.join(ws.home, ".profile"), "# stand-in home\n")
    _write(os.path.join(ws.etc, "hostname"), "mdmtool-prove\n")
    for raw in _deny_paths(staged):
        _plant_deny(ws, raw, cwd, home)
    return ws


def _deny_paths(spec: SandboxSpec) -> list[str]:
    out = [e.path or e.glob for e in spec.fs_entries
           if e.access in ("deny", "none") and (e.path or e.glob)]
    out += spec.deny_read
    roots = [spec.cwd] + list(spec.writable_roots)
    abs_out: list[str] = []
    for p in out:
        rel = scoped(p)
        if rel is None:
            abs_out.append(p)
        else:  # scoped / relative entries apply per workspace root
            abs_out += [r if rel in ("", ".") else os.path.join(r, rel) for r in roots]
    return list(dict.fromkeys(abs_out))


def _plant_deny(ws: Workspace, staged: str, real_cwd: str, home: str) -> None:
    """Give a deny rule something to deny: a secret file (or sample files for a glob)."""
    if is_glob(staged):
        samples = sample_paths(staged)
        for s in samples:
            _write(s, "mdmtool secret\n")
        ws.glob_samples[staged] = samples
        os.makedirs(static_prefix(staged), exist_ok=True)
        return
    real = staged[len(ws.root) + 3:] if staged.startswith(ws.root + "/fs") else None
    if real and os.path.isfile(real):  # metadata only: the real file is never opened
        _write(staged, "mdmtool secret\n")
        ws.deny_targets[staged] = staged
    else:
        target = os.path.join(staged, SECRET_NAME)
        _write(target, "mdmtool secret\n")
        ws.deny_targets[staged] = target


_SAMPLE = [(re.compile(r"\*\*/"), "mdmtool-sub/"), (re.compile(r"\*\*"), "mdmtool-sub"),
           (re.compile(r"\*"), "mdmtool-probe"), (re.compile(r"\?"), "x"),
           (re.compile(r"\[!([^\]]*)\]"), None), (re.compile(r"\[([^\]]+)\]"), None)]


def sample_paths(glob: str) -> list[str]:
    """Concrete files a glob matches: one per ``**/`` depth choice (0 and 1 dirs)."""
    variants = [glob]
    if "**/" in glob:
        variants = [glob.replace("**/", "", 1), glob]
    out = []
    for v in variants:
        for rx, rep in _SAMPLE:
            if rep is not None:
                v = rx.sub(rep, v)
            elif rx.pattern.startswith(r"\[!"):
                v = rx.sub(lambda mt: _outside(mt.group(1)), v)
            else:
                v = rx.sub(lambda mt: mt.group(1)[0], v)
        out.append(v)
    return list(dict.fromkeys(out))


def _outside(chars: str) -> str:
    for c in "zqx0_":
        if c not in chars:
            return c
    return "~"


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def _rmtree(path: str) -> None:
    def onerror(func, p, exc):  # a probe may leave a 000 directory behind
        try:
            os.chmod(p if os.path.isdir(p) else os.path.dirname(p), 0o700)
            func(p)
        except OSError:
            pass
    shutil.rmtree(path, onerror=onerror)
