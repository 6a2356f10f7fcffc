"""``mdmtool diff``: posture-aware diff of two files, two revisions or two setups.

Sides are TOML files, ``mdmtool effective --format json`` documents, ``git:REV:PATH``
or ``--git REV1..REV2 PATH``. ``--effective`` resolves whole setups (two system dirs,
two CODEX_HOMEs, or one setup before and after a file change) and diffs the results.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

from mdmtool.errors import EXIT_FINDINGS, EXIT_OK, MdmError, UsageError
from mdmtool.model import ResolveInputs
from mdmtool.record import replace

FAIL_ON = ("widening", "narrowing", "neutral", "any")
VARY = ("system-dir", "codex-home", "file")
KINDS = ("config", "requirements", "effective")


def parse_fail_on(values: list[str] | None) -> tuple[str, ...]:
    out: list[str] = []
    for v in values or []:
        for part in v.split(","):
            part = part.strip()
            if not part:
                continue
            if part not in FAIL_ON:
                raise UsageError(f"unknown --fail-on {part!r} (choose from {', '.join(FAIL_ON)})")
            out.extend(("widening", "narrowing", "neutral") if part == "any" else (part,))
    return tuple(dict.fromkeys(out))


def exit_code(result, fail_on: tuple[str, ...]) -> int:
    """1 when a change of a class named by --fail-on exists, else 0."""
    return EXIT_FINDINGS if any(c.classification in fail_on for c in result.changes) else EXIT_OK


def load_spec(spec: str, kind: str | None):
    """A side from a file path or ``git:REV:PATH``."""
    from mdmtool.diff import load_file, side_from_text
    if spec.startswith("git:"):
        from mdmtool.gitsource import read_spec
        text, label, path = read_spec(spec)
        return side_from_text(text, label, kind, source_name=path)
    return load_file(spec, kind)


def git_range_sides(rng: str, path: str, kind: str | None):
    from mdmtool.diff import side_from_text
    from mdmtool.gitsource import open_repo, parse_range, read_at, read_worktree, repo_relpath
    repo = open_repo(path)
    rel = repo_relpath(repo, path)
    left, right = parse_range(rng, repo)
    old = read_at(repo, left, rel)
    new = read_worktree(path) if right is None else read_at(repo, right, rel)
    if old is None and new is None:
        raise MdmError(f"file exists at neither {left} nor {right or 'the work tree'}", file=path)
    a = side_from_text(old, f"{left}:{rel}", kind, source_name=path)
    b = side_from_text(new, f"{right}:{rel}" if right else path, kind, source_name=path)
    return a, b, (old, new)


def run_diff(a: str | None, b: str | None, *, git_range: str | None = None,
             kind: str | None = None, fmt: str = "text", fail_on: list[str] | None = None,
             effective: bool = False, vary: str | None = None,
             inputs: ResolveInputs | None = None, changes_only: bool = False) -> int:
    from mdmtool.reporters.diff_formats import FORMATS, render
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r} (choose from {', '.join(FORMATS)})")
    if kind is not None and kind not in KINDS:
        raise UsageError(f"unknown --kind {kind!r} (choose from {', '.join(KINDS)})")
    if vary is not None and vary not in VARY:
        raise UsageError(f"unknown --vary {vary!r} (choose from {', '.join(VARY)})")
    classes = parse_fail_on(fail_on)
    from mdmtool.diff import diff_sides
    if effective:
        side_a, side_b = effective_sides(a, b, git_range=git_range, vary=vary,
                                         inputs=inputs or ResolveInputs())
    elif git_range:
        if not a or b:
            raise UsageError("--git REV1..REV2 takes exactly one PATH")
        side_a, side_b, _ = git_range_sides(git_range, a, kind)
    else:
        if not a or not b:
            raise UsageError("diff needs two inputs: A B (files or git:REV:PATH), "
                             "or --git REV1..REV2 PATH")
        side_a, side_b = load_spec(a, kind), load_spec(b, kind)
    result = diff_sides(side_a, side_b, kind if not effective else None)
    if changes_only:
        from mdmtool.posture import NEUTRAL
        result.changes = [c for c in result.changes if c.classification != NEUTRAL]
    sys.stdout.write(render(fmt, result, fail_on=classes))
    return exit_code(result, classes)


# ----------------------------------------------------------------------------- --effective

def _looks_like(directory: str) -> str | None:
    names = set(os.listdir(directory))
    if names & {"requirements.toml", "managed_config.toml"}:
        return "system-dir"
    if os.path.basename(os.path.normpath(directory)) == ".codex" or names & {
            "auth.json", "sessions", "history.jsonl", "version.json"} or any(
            n.endswith(".config.toml") for n in names):
        return "codex-home"
    return None


def effective_sides(a: str | None, b: str | None, *, git_range: str | None, vary: str | None,
                    inputs: ResolveInputs):
    """Resolve the two setups named by A/B (or a git range over one file)."""
    if git_range:
        if not a or b:
            raise UsageError("--effective --git REV1..REV2 takes exactly one PATH")
        side_a, side_b, (old, new) = git_range_sides(git_range, a, None)
        return (_resolve_with_file(inputs, a, old, f"setup with {side_a.label}"),
                _resolve_with_file(inputs, a, new, f"setup with {side_b.label}"))
    if not a or not b:
        raise UsageError("--effective needs A and B: two system dirs, two CODEX_HOMEs, "
                         "or a file of the setup and its replacement")
    if vary is None:
        if os.path.isdir(a) and os.path.isdir(b):
            kinds = {_looks_like(a), _looks_like(b)} - {None}
            if len(kinds) != 1:
                raise UsageError("cannot tell whether A and B are system dirs or CODEX_HOMEs; "
                                 "pass --vary system-dir or --vary codex-home")
            vary = kinds.pop()
        else:
            vary = "file"
    if vary in ("system-dir", "codex-home"):
        for d in (a, b):
            if not os.path.isdir(d):
                raise MdmError("not a directory", file=d)
        field = "system_dir" if vary == "system-dir" else "codex_home"
        return (_resolve(replace(inputs, **{field: a}), f"{vary} {a}"),
                _resolve(replace(inputs, **{field: b}), f"{vary} {b}"))
    if b.startswith("git:"):
        from mdmtool.gitsource import read_spec
        new_text = read_spec(b)[0]
    else:
        from mdmtool.tomlio import read_text
        new_text = read_text(b)
    from mdmtool.tomlio import read_text
    old_text = read_text(a) if os.path.exists(a) else None
    return (_resolve_with_file(inputs, a, old_text, f"setup with {a}"),
            _resolve_with_file(inputs, a, new_text, f"setup with {a} replaced by {b}"))


def _resolve(inputs: ResolveInputs, label: str):
    from mdmtool.diff import side_from_effective
    from mdmtool.resolve import resolve
    return side_from_effective(resolve(inputs).to_json(), label)


def _resolve_with_file(inputs: ResolveInputs, target: str, text: str | None, label: str):
    """Resolve the setup as if ``target`` held ``text`` (``None``: absent).

    The directory holding ``target`` (the system dir or CODEX_HOME) is copied — its TOML
    files only — to a private temporary directory; nothing of the user's is modified.
    Paths in the result are mapped back to the real directory.
    """
    from mdmtool.layers import default_codex_home
    directory = os.path.dirname(os.path.abspath(target))
    roles = {os.path.abspath(inputs.system_dir): "system_dir",
             os.path.abspath(inputs.codex_home or default_codex_home()): "codex_home"}
    role = roles.get(directory)
    if role is None:
        raise UsageError(f"{target} is neither in the system dir ({inputs.system_dir}) nor in "
                         "CODEX_HOME; pass --system-dir or --codex-home for its directory")
    tmp = tempfile.mkdtemp(prefix="mdmtool-diff-")
    try:
        if os.path.isdir(directory):
            for name in os.listdir(directory):
                src = os.path.join(directory, name)
                if name.endswith(".toml") and os.path.isfile(src):
                    shutil.copyfile(src, os.path.join(tmp, name))
        dest = os.path.join(tmp, os.path.basename(target))
        if text is None:
            if os.path.exists(dest):
                os.unlink(dest)
        else:
            with open(dest, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
        from mdmtool.diff import side_from_effective
        from mdmtool.resolve import resolve
        doc = resolve(replace(inputs, **{role: tmp})).to_json()
        doc = _remap(doc, {tmp: directory, os.path.realpath(tmp): directory})
        return side_from_effective(doc, label)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _remap(value, mapping: dict[str, str]):
    if isinstance(value, str):
        for old, new in mapping.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {_remap(k, mapping): _remap(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [_remap(v, mapping) for v in value]
    return value
