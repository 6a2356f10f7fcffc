"""Materialise an oracle-style case directory into real scratch dirs.

A case (see fixtures/oracle_cases/) holds ``etc/codex/*`` (system layer, requirements,
managed config), ``home/`` (CODEX_HOME), ``project/`` (the cwd, with ``.codex/``) and an
optional ``args.json`` (``overrides``, ``profile``, ``flags``, ``trust``, ``git``, ``cwd``).
The placeholders ``@PROJECT@``, ``@CODEX_HOME@``, ``@HOME@``, ``@WORK@`` in text files and in
``overrides``/``flags`` become the scratch paths, and -- unless ``"trust"`` says otherwise --
the project is marked trusted in the user ``config.toml``, exactly as the recorded answers
were produced.  Shared by the Codex driver tests and the resolver tests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any, Callable

TEXT_SUFFIXES = (".toml", ".json", ".md", ".rules", ".txt", ".yaml", ".yml")


@dataclass
class Materialised:
    """Real paths of one materialised case (``work`` holds all of them)."""

    work: str
    codex_home: str
    home: str
    project: str
    cwd: str
    system_dir: str | None
    args: dict[str, Any] = field(default_factory=dict)  # args.json, placeholders substituted

    @property
    def profile(self) -> str | None:
        return self.args.get("profile")

    @property
    def overrides(self) -> list[str]:
        return list(self.args.get("overrides") or [])

    @property
    def flags(self) -> list[str]:
        return list(self.args.get("flags") or [])


def _substitute(text: str, m: Materialised) -> str:
    for key, val in (("@PROJECT@", m.project), ("@CODEX_HOME@", m.codex_home),
                     ("@HOME@", m.home), ("@WORK@", m.work)):
        text = text.replace(key, val)
    return text


def _copy_tree(src: str, dst: str, m: Materialised) -> None:
    os.makedirs(dst, exist_ok=True)
    if not os.path.isdir(src):
        return
    for root, _dirs, files in os.walk(src):
        out_dir = os.path.normpath(os.path.join(dst, os.path.relpath(root, src)))
        os.makedirs(out_dir, exist_ok=True)
        for name in files:
            s, d = os.path.join(root, name), os.path.join(out_dir, name)
            if name.endswith(TEXT_SUFFIXES):
                with open(s, encoding="utf-8", errors="surrogateescape") as fh:
                    data = fh.read()
                with open(d, "w", encoding="utf-8", errors="surrogateescape") as fh:
                    fh.write(_substitute(data, m))
            else:
                shutil.copy2(s, d)


def materialise(case_dir: str, dest_root: str) -> Materialised:
    """Copy ``case_dir`` into ``dest_root/<case name>/`` (wiped first) and return its paths."""
    case_dir = os.path.abspath(case_dir)
    args: dict[str, Any] = {}
    if os.path.exists(os.path.join(case_dir, "args.json")):
        with open(os.path.join(case_dir, "args.json"), encoding="utf-8") as fh:
            args = json.load(fh)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", os.path.basename(case_dir.rstrip("/"))) or "case"
    work = os.path.join(os.path.abspath(dest_root), name)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    project = os.path.join(work, "project")
    cwd_rel = os.path.normpath(args["cwd"]) if args.get("cwd") else None
    if cwd_rel and (os.path.isabs(cwd_rel) or cwd_rel.split(os.sep)[0] == ".."):
        raise ValueError(f"args.json \"cwd\" must be a path inside project/: {args['cwd']!r}")
    has_etc = os.path.isdir(os.path.join(case_dir, "etc", "codex"))
    m = Materialised(work=work, codex_home=os.path.join(work, "codex_home"),
                     home=os.path.join(work, "home"), project=project,
                     cwd=os.path.join(project, cwd_rel) if cwd_rel else project,
                     system_dir=os.path.join(work, "etc_codex") if has_etc else None)
    m.args = dict(args)
    for key in ("overrides", "flags"):
        if key in args:
            m.args[key] = [_substitute(a, m) if isinstance(a, str) else a for a in args[key]]
    os.makedirs(m.home)
    _copy_tree(os.path.join(case_dir, "home"), m.codex_home, m)
    _copy_tree(os.path.join(case_dir, "project"), m.project, m)
    if m.system_dir:
        _copy_tree(os.path.join(case_dir, "etc", "codex"), m.system_dir, m)
    os.makedirs(m.cwd, exist_ok=True)
    if args.get("git"):
        subprocess.run(["git", "init", "-q", m.project], check=True)
    trust = args.get("trust", "trusted")
    if trust:
        cfg = os.path.join(m.codex_home, "config.toml")
        existing = ""
        if os.path.exists(cfg):
            with open(cfg, encoding="utf-8") as fh:
                existing = fh.read()
        with open(cfg, "a", encoding="utf-8") as fh:
            if existing and not existing.endswith("\n"):
                fh.write("\n")
            fh.write(f'\n[projects."{m.project}"]\ntrust_level = "{trust}"\n')
    return m


def normaliser(m: Materialised) -> Callable[[Any], Any]:
    """A function mapping real scratch paths (in any JSON-like value) back to placeholders.

    ``<PROJECT>``, ``<CODEX_HOME>``, ``<HOME>``, ``<WORK>``; the system dir reads
    ``/etc/codex`` (where Codex saw it).
    """
    pairs = [(m.project, "<PROJECT>"), (m.codex_home, "<CODEX_HOME>"), (m.home, "<HOME>")]
    if m.system_dir:
        pairs.append((m.system_dir, "/etc/codex"))
    pairs.append((m.work, "<WORK>"))

    def norm(obj: Any) -> Any:
        if isinstance(obj, str):
            for real, placeholder in pairs:
                obj = obj.replace(real, placeholder)
            return re.sub(r"codex-arg0[A-Za-z0-9]{6}", "codex-arg0<RAND>", obj)
        if isinstance(obj, list):
            return [norm(x) for x in obj]
        if isinstance(obj, tuple):
            return tuple(norm(x) for x in obj)
        if isinstance(obj, dict):
            return {norm(k): norm(v) for k, v in obj.items()}
        return obj

    return norm
