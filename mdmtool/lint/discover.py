"""From command-line paths to units: which files are read together, in which role.

Rules of thumb (documented in docs/rules.md and the README):

* A file argument is linted in the role its name and place give it: ``requirements.toml``,
  ``managed_config.toml``, ``<dir>/.codex/config.toml`` (a project layer, unless the
  ``.codex`` folder is a home directory's CODEX_HOME), ``config.toml`` / ``*.config.toml``
  (a config), anything else (``*.sh``, ``.bashrc``, aliases) a shell script scanned for
  Codex flags. All file arguments of one run form one unit.
* A directory argument that holds Codex files (or ``etc/``, ``home/``, ``.codex/``) is one
  machine tree. A directory that holds none itself is a fleet: each subdirectory is a
  host tree ``<host>/etc/codex/…``, ``<host>/home/<user>/.codex/config.toml``, projects
  ``<host>/…/<project>/.codex/config.toml``; paths inside are read as ``/`` + relative path.
"""

from __future__ import annotations

import functools
import os
import stat
from operator import attrgetter
from typing import Iterator

from mdmtool.errors import MdmError
from mdmtool.lint.context import (MANAGED, PROFILE, PROJECT, REQUIREMENTS, SHELL, STANDALONE,
                                  SYSTEM, USER, LintFile, Unit)

_SKIP_DIRS = {".git", "node_modules", "__pycache__", ".venv", ".tox", ".hg", ".svn"}
_TREE_MARKERS = {"etc", "home", "root", "Users", ".codex"}


def is_codex_file(name: str) -> bool:
    return (name in ("config.toml", "requirements.toml", "managed_config.toml")
            or name.endswith(".config.toml"))


def _is_codex_home(parts: list[str]) -> bool:
    """``parts`` = path components of a ``.codex`` folder, as on the host."""
    # /.codex, /root/.codex, /home/<u>/.codex, /Users/<u>/.codex, /var/lib/<x>/.codex is project
    if parts[:-1] == [] or parts[:-1] == ["root"]:
        return True
    return len(parts) == 3 and parts[0] in ("home", "Users")


@functools.lru_cache(maxsize=4096)  # fleets repeat the same host paths (a pure function)
def role_for(host_path: str, home: str | None = None) -> tuple[str, str | None]:
    """Role of a file from its path on the host; second item = project dir for projects."""
    norm = host_path.replace("\\", "/")
    parts = [p for p in norm.split("/") if p]
    name = parts[-1] if parts else norm
    parent = parts[:-1]
    if name == "requirements.toml" or name.endswith(".requirements.toml"):
        return REQUIREMENTS, None
    if name == "managed_config.toml":
        return MANAGED, None
    if not name.endswith(".toml"):
        return SHELL, None
    if parent[-2:] == ["etc", "codex"] and name == "config.toml":
        return SYSTEM, None
    if parent and parent[-1] == ".codex":
        home_parts = [p for p in (home or "").replace("\\", "/").split("/") if p]
        is_home = _is_codex_home(parent) or (home_parts and parent[:-1] == home_parts)
        if is_home:
            return (USER, None) if name == "config.toml" else (PROFILE, None)
        if name == "config.toml":
            return PROJECT, "/" + "/".join(parent[:-1])
    if name.endswith(".config.toml"):
        return PROFILE, None
    return STANDALONE, None


def load_file(path: str, display: str, host_path: str, home: str | None = None) -> LintFile:
    role, project_dir = role_for(host_path, home)
    text = _read_regular(path)
    err = None
    if text is None:  # not a plain readable UTF-8 file: the careful reader says why
        from mdmtool.tomlio import read_text
        try:
            text = read_text(path)
        except MdmError as exc:
            text, err = "", exc
    return LintFile(display, role, text, host_path=host_path, project_dir=project_dir, error=err)


_O_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_MAX_BYTES = 8 * 1024 * 1024  # mdmtool.tomlio.MAX_TOML_BYTES (not imported: start-up time)


def _read_regular(path: str) -> str | None:
    """The text of a regular UTF-8 file within the size cap, read with two system calls
    (fleet hot path); ``None`` for anything else, which :func:`read_text` then reports."""
    try:
        fd = os.open(path, _O_FLAGS)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > _MAX_BYTES:
            return None
        want = st.st_size + 1  # one byte more: a short read is the end of the file
        raw = os.read(fd, want)
        if len(raw) == want:  # it grew since fstat: read on, up to the cap
            chunks = [raw]
            left = _MAX_BYTES + 1 - len(raw)
            while left > 0:
                b = os.read(fd, min(left, 65536))
                if not b:
                    break
                chunks.append(b)
                left -= len(b)
            raw = b"".join(chunks)
        if len(raw) > _MAX_BYTES:
            return None
        return raw.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    finally:
        os.close(fd)


_NAME = attrgetter("name")


def _walk(root: str) -> list[str]:
    """Codex files below ``root`` in a stable order (no symlinked directories followed):
    a directory's files by name, then its subdirectories' files, each by name."""
    out: list[str] = []
    _walk_into(root, out)
    return out


def _walk_into(root: str, out: list[str]) -> None:
    try:
        with os.scandir(root) as it:
            entries = list(it)
    except OSError as exc:
        raise MdmError(f"cannot read directory: {exc.strerror or exc}", file=root) from None
    if len(entries) > 1:
        entries.sort(key=_NAME)
    dirs = []
    for e in entries:
        if e.is_dir(follow_symlinks=False):
            if e.name not in _SKIP_DIRS:
                dirs.append(e.path)
        elif is_codex_file(e.name):
            out.append(e.path)
    for d in dirs:
        _walk_into(d, out)


def is_tree(root: str) -> bool:
    """True when ``root`` is one machine tree (Codex files or tree markers at its top)."""
    try:
        names = os.listdir(root)
    except OSError as exc:
        raise MdmError(f"cannot read directory: {exc.strerror or exc}", file=root) from None
    return any(is_codex_file(n) or n in _TREE_MARKERS for n in names)


def tree_unit(root: str, name: str | None = None, display_root: str | None = None) -> Unit:
    """One machine tree: paths inside are read as absolute paths on that machine."""
    unit = Unit(name or display_root or root)
    droot = display_root if display_root is not None else root
    prefix = os.path.join(root, "")
    dprefix = os.path.join(droot, "") if droot else ""
    for path in _walk(root):
        rel = path[len(prefix):] if path.startswith(prefix) else os.path.relpath(path, root)
        if os.sep != "/":
            rel = rel.replace(os.sep, "/")
        unit.files.append(load_file(path, dprefix + rel, "/" + rel))
    return unit


#: host names sorted in memory at a time; longer fleets are sorted in runs spilled to
#: temporary files and merged, so listing 100k hosts takes no more memory than 20k
SORT_RUN = 20_000


def host_dirs(root: str) -> Iterator[tuple[str, str]]:
    """Fleet root -> (host name, host dir), streamed in name order."""
    runs: list = []
    names: list[str] = []
    try:
        with os.scandir(root) as it:
            for e in it:
                if e.name not in _SKIP_DIRS and e.is_dir(follow_symlinks=False):
                    names.append(e.name)
                    if len(names) >= SORT_RUN:
                        runs.append(_spill(names))
                        names = []
    except OSError as exc:
        raise MdmError(f"cannot read directory: {exc.strerror or exc}", file=root) from None
    names.sort()
    if runs:
        import heapq
        ordered: Iterator[str] = heapq.merge(*(_unspill(fh) for fh in runs), names)
    else:
        ordered = iter(names)
    for n in ordered:
        yield n, os.path.join(root, n)


def _spill(names: list[str]):
    """``names`` sorted, written NUL-separated to an anonymous temporary file."""
    import tempfile
    names.sort()
    fh = tempfile.TemporaryFile()
    fh.write(b"\0".join(os.fsencode(n) for n in names) + b"\0")
    fh.seek(0)
    return fh


def _unspill(fh) -> Iterator[str]:
    rest = b""
    with fh:
        while True:
            block = fh.read(1 << 16)
            if not block:
                return
            *done, rest = (rest + block).split(b"\0")
            for raw in done:
                yield os.fsdecode(raw)


def file_unit(paths: list[str]) -> Unit:
    """All file arguments of one run, as one unit (pre-commit passes changed files)."""
    unit = Unit("files")
    home = os.path.expanduser("~")
    for p in paths:
        host = os.path.abspath(p)
        unit.files.append(load_file(p, p, host, home))
    return unit


def machine_unit(system_dir: str, codex_home: str, cwd: str, profile: str | None = None) -> Unit:
    """This machine, as Codex would start in ``cwd``: system, user, profile and project files."""
    unit = Unit("this machine")
    home = os.path.expanduser("~")
    cands = [os.path.join(system_dir, n) for n in ("config.toml", "requirements.toml",
                                                   "managed_config.toml")]
    cands.append(os.path.join(codex_home, "config.toml"))
    if profile:
        cands.append(os.path.join(codex_home, f"{profile}.config.toml"))
    cands += project_layers(cwd, codex_home)
    for p in cands:
        if os.path.isfile(p):
            f = load_file(p, p, os.path.abspath(p), home)
            if p.startswith(system_dir.rstrip("/") + "/") and f.role == STANDALONE:
                f.role = SYSTEM
            if os.path.dirname(os.path.abspath(p)) == os.path.abspath(codex_home):
                f.role = USER if os.path.basename(p) == "config.toml" else PROFILE
            unit.files.append(f)
    return unit


def project_layers(cwd: str, codex_home: str) -> list[str]:
    """``.codex/config.toml`` files from the project root (first ``.git`` upwards) to cwd."""
    cwd = os.path.abspath(cwd)
    chain = [cwd]
    d = cwd
    root = cwd
    while True:
        if os.path.exists(os.path.join(d, ".git")):
            root = d
            break
        parent = os.path.dirname(d)
        if parent == d:
            root = cwd
            break
        d = parent
        chain.append(d)
    dirs = []
    d = cwd
    while True:
        dirs.append(d)
        if d == root:
            break
        d = os.path.dirname(d)
    out = []
    for d in reversed(dirs):
        dot = os.path.join(d, ".codex")
        if os.path.abspath(dot) == os.path.abspath(codex_home):
            continue
        out.append(os.path.join(dot, "config.toml"))
    return out
