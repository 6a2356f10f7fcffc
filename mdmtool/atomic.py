"""Crash-safe file replacement for every command that writes.

A write goes to a temporary file in the target's own directory, is fsynced, gets the old
file's mode (and owner, when we may), and is renamed over the target; then the directory
is fsynced. A process killed at any moment therefore leaves either the old file or the
new one, never a torn mix (a stray ``.NAME.*.tmp`` may remain; it is never the target).
"""

from __future__ import annotations

import os
import stat
import tempfile

from mdmtool.errors import MdmError

_DEFAULT_MODE = 0o644


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # some platforms cannot open directories; rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def resolve_write_target(path: str) -> str:
    """The real file a write to *path* must replace.

    A symlink is followed only when its target stays inside the link's own directory
    (or below it); anything else is refused, so an edit can never escape to a file the
    user did not name.
    """
    if not os.path.islink(path):
        return path
    link_dir = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    target = os.path.realpath(path)
    if os.path.commonpath([link_dir, target]) != link_dir:
        raise MdmError(f"refusing to write through symlink: it points to {target}, "
                       f"outside {link_dir}", file=path)
    if os.path.isdir(target):
        raise MdmError(f"refusing to write: symlink points to a directory ({target})", file=path)
    return target


def _write_fd(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.fsync(fd)


def _copy_meta(fd: int, st: os.stat_result | None) -> None:
    if st is None:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, _DEFAULT_MODE & ~umask)
        return
    os.fchmod(fd, stat.S_IMODE(st.st_mode))
    try:
        os.fchown(fd, st.st_uid, st.st_gid)
    except (PermissionError, AttributeError):
        pass  # not root: the file becomes ours, as any editor would do


def _replace_with(target: str, data: bytes, st: os.stat_result | None) -> None:
    directory = os.path.dirname(os.path.abspath(target))
    base = os.path.basename(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=directory)
    try:
        try:
            _copy_meta(fd, st)
            _write_fd(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


def atomic_write_bytes(path: str, data: bytes, *, backup: bool = False) -> str:
    """Atomically replace *path* with *data*; returns the real path written.

    ``backup=True`` first stores the current content as ``PATH.bak`` (itself written
    atomically, with the same mode), so the previous version survives the edit.
    """
    target = resolve_write_target(path)
    directory = os.path.dirname(os.path.abspath(target)) or "."
    if not os.path.isdir(directory):
        raise MdmError(f"cannot write: directory {directory} does not exist", file=path)
    try:
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise MdmError("cannot write: not a regular file", file=path)
    try:
        if backup and st is not None:
            with open(target, "rb") as fh:
                old = fh.read()
            _replace_with(target + ".bak", old, st)
        _replace_with(target, data, st)
    except OSError as exc:  # permission, full disk, read-only fs: the old file is intact
        raise MdmError(f"cannot write: {exc.strerror or exc}", file=path) from exc
    return target


def atomic_write_text(path: str, text: str, *, backup: bool = False) -> str:
    """Atomically replace *path* with *text* (UTF-8, newlines written exactly as given)."""
    return atomic_write_bytes(path, text.encode("utf-8"), backup=backup)


class AtomicWriter:
    """A text file written piece by piece (streamed reports) that replaces *path* only
    on :meth:`commit`, with the same guarantees as :func:`atomic_write_bytes`;
    :meth:`abort` leaves the old file untouched."""

    def __init__(self, path: str):
        self.path = path
        self.target = resolve_write_target(path)
        self.directory = os.path.dirname(os.path.abspath(self.target)) or "."
        if not os.path.isdir(self.directory):
            raise MdmError(f"cannot write: directory {self.directory} does not exist", file=path)
        try:
            st: os.stat_result | None = os.stat(self.target)
        except FileNotFoundError:
            st = None
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise MdmError("cannot write: not a regular file", file=path)
        base = os.path.basename(self.target)
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=self.directory)
            _copy_meta(fd, st)
        except OSError as exc:
            raise MdmError(f"cannot write: {exc.strerror or exc}", file=path) from exc
        self.fh = os.fdopen(fd, "w", encoding="utf-8", newline="")

    def commit(self) -> None:
        try:
            self.fh.flush()
            os.fsync(self.fh.fileno())
            self.fh.close()
            os.replace(self.tmp, self.target)
        except OSError as exc:
            self.abort()
            raise MdmError(f"cannot write: {exc.strerror or exc}", file=self.path) from exc
        _fsync_dir(self.directory)

    def abort(self) -> None:
        if not self.fh.closed:
            self.fh.close()
        try:
            os.unlink(self.tmp)
        except OSError:
            pass
