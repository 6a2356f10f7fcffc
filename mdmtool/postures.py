"""Posture templates (strict, balanced, open): requirements, managed config, project config.

The template files ship inside the wheel as ``mdmtool/templates/`` (hatch force-include); in a
source checkout they are the repository's ``templates/`` directory.
"""

from __future__ import annotations

import os
from importlib import resources

from mdmtool.errors import MdmError, UsageError

POSTURES = ("strict", "balanced", "open")
#: files of one posture, relative to its directory (and to the ``init`` output dir)
FILES = ("requirements.toml", "managed_config.toml", os.path.join("project", ".codex", "config.toml"),
         "README.md")


def templates_root() -> str:
    """Directory holding ``<posture>/`` template dirs (wheel first, then the checkout)."""
    try:
        packaged = resources.files("mdmtool") / "templates"
        if packaged.is_dir():
            return str(packaged)
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - zipped installs
        pass
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    checkout = os.path.join(here, "templates")
    if os.path.isdir(checkout):
        return checkout
    raise MdmError("posture templates are missing from this installation")


def posture_dir(posture: str) -> str:
    if posture not in POSTURES:
        raise UsageError(f"unknown posture {posture!r} (choose from {', '.join(POSTURES)})")
    return os.path.join(templates_root(), posture)


def template_path(posture: str, relpath: str) -> str:
    return os.path.join(posture_dir(posture), relpath)


def read_template(posture: str, relpath: str) -> str:
    with open(template_path(posture, relpath), encoding="utf-8") as fh:
        return fh.read()


def write_posture(posture: str, out_dir: str, *, force: bool = False) -> list[str]:
    """Write every file of ``posture`` under ``out_dir``; nothing is written on a clash.

    Existing files are only replaced with ``force``; each write is atomic.
    """
    from mdmtool.atomic import atomic_write_text

    contents = {rel: read_template(posture, rel) for rel in FILES}
    targets = {rel: os.path.join(out_dir, rel) for rel in FILES}
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise MdmError("exists and is not a directory", file=out_dir)
    clash = [p for p in targets.values() if os.path.lexists(p)]
    if clash and not force:
        raise MdmError(f"refusing to overwrite existing file(s): {', '.join(clash)} "
                       "(use --force to replace them)")
    written = []
    for rel in FILES:
        target = targets[rel]
        try:
            os.makedirs(os.path.dirname(target), exist_ok=True)
        except OSError as exc:
            raise MdmError(f"cannot create directory: {exc.strerror or exc}",
                           file=os.path.dirname(target)) from None
        written.append(atomic_write_text(target, contents[rel]))
    return written
