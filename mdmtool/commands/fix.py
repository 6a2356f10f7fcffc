"""``mdmtool fix FILE``: apply lint's autofixes and the built-in ones, atomically.

Fixes come from ``mdmtool lint`` (``Finding.fix``) when the linter is installed, plus the
built-in ones of :mod:`mdmtool.fixrules`. Only the lines that need it change; the
result is proven to mean exactly the fixed values before it is written (atomically,
keeping the mode; ``--backup`` keeps FILE.bak). Exit 0 when everything fixable was
fixed, 1 when something needs a hand (or, with --dry-run, when there is something to
fix), 2 on bad input.
"""

from __future__ import annotations

import json
import os
import sys

from mdmtool.errors import EXIT_FINDINGS, EXIT_OK, MdmError, UsageError

FORMATS = ("text", "json")
_TOML_OPS = ("set", "delete", "move")


def lint_fixes(path: str, requirements: str | None) -> list[tuple[dict, str, str]]:
    """(fix, rule, message) from the linter for ``path``; [] when no linter is installed."""
    try:
        from mdmtool.lint import lint_file  # the documented entry point, when it exists
    except ImportError:
        lint_file = None
    if lint_file is not None:
        findings = lint_file(path, requirements=requirements)
    else:
        try:
            from mdmtool.lint.discover import file_unit
            from mdmtool.lint.engine import lint_unit
        except ImportError:
            return []
        paths = [path] + ([requirements] if requirements else [])
        findings = lint_unit(file_unit(paths))
    me = os.path.abspath(path)
    out = []
    for f in findings:
        if f.fix and f.fix.get("op") in _TOML_OPS and f.source.file \
                and os.path.abspath(f.source.file) == me:
            out.append((dict(f.fix), f.rule, f.message))
    return out


def collect_fixes(path: str, data: dict, kind: str, requirements: str | None,
                  prefer: list[str] | None, use_lint: bool) -> list[tuple[dict, str, str]]:
    from mdmtool.fixrules import builtin_fixes, parse_prefer, profile_comment, requirement_fixes
    from mdmtool.tomlio import read_toml
    prefs = parse_prefer(prefer)
    linted = lint_fixes(path, requirements) if use_lint else []
    for fix, _rule, _msg in linted:  # a removed `profile` line keeps a pointer to its file
        if fix["op"] == "delete" and fix.get("path") == ["profile"] and "comment" not in fix \
                and isinstance(data.get("profile"), str):
            fix["comment"] = profile_comment(data["profile"])
    # one fix per key: what the requirements force first, then lint's, then the built-ins
    candidates = requirement_fixes(data, read_toml(requirements).data, prefs) if requirements else []
    candidates += linted + builtin_fixes(data, kind)
    found: list[tuple[dict, str, str]] = []
    taken: set[tuple] = set()
    for fix, rule, msg in candidates:
        if tuple(fix["path"]) not in taken:
            found.append((fix, rule, msg))
            taken.add(tuple(fix["path"]))
    for fix, _rule, _msg in found:  # --prefer also picks among a lint fix's choices
        choices = fix.get("choices")
        if fix["op"] == "set" and isinstance(choices, list) and len(fix["path"]) == 1:
            for k, v in prefs:
                if (k is None or k == fix["path"][0]) and v in choices:
                    fix["value"] = v
                    break
    return found


def _external_text(dest: str, to: list, value, source: str) -> tuple[str | None, str | None]:
    """New text of a sibling file receiving a moved table; (None, reason) on conflict."""
    import tomlkit

    from mdmtool.merge import get_path
    from mdmtool.tomlio import read_text
    nested = value
    for part in reversed(to):
        nested = {part: nested}
    if os.path.exists(dest):
        from mdmtool.tomlio import parse_toml
        current_text = read_text(dest)
        current = parse_toml(current_text, dest)
        for key, val in (value.items() if isinstance(value, dict) else []):
            have = get_path(current, list(to) + [key], default=None)
            if have is not None and have != val:
                return None, f"{dest} already sets {key} differently; move it by hand"
        from mdmtool.tomlmerge import merge_text
        return merge_text(current_text, tomlkit.dumps(nested), base_name=dest), None
    header = f"# moved here from {os.path.basename(source)} by mdmtool fix\n"
    return header + tomlkit.dumps(nested), None


def run_fix(path: str, *, requirements: str | None = None, prefer: list[str] | None = None,
            dry_run: bool = False, backup: bool = False, fmt: str = "text",
            use_lint: bool = True, kind: str | None = None) -> int:
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r} (choose from {', '.join(FORMATS)})")
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    from mdmtool.diff import detect_kind
    from mdmtool.fix import apply_fixes, expected_values
    from mdmtool.tomlio import parse_toml, read_text
    from mdmtool.tomlmerge import check_same_values
    if requirements and not os.path.isfile(requirements):
        raise MdmError("no such file (--requirements)", file=requirements)
    text = read_text(path)
    data = parse_toml(text, path)
    kind = kind or detect_kind(path, data)
    found = collect_fixes(path, data, kind, requirements, prefer, use_lint)
    fixes = [f for f, _r, _m in found]
    rules = [r for _f, r, _m in found]

    def attempt(fs, rs):
        try:
            doc = tomlkit.parse(text)
        except TOMLKitError as exc:
            raise MdmError(f"cannot edit this file while keeping its formatting: {exc}",
                           file=path) from None
        return doc, apply_fixes(doc, fs, rs)

    doc, plan = attempt(fixes, rules)
    externals: dict[str, str] = {}
    blocked: dict[int, str] = {}
    for i, o in enumerate(plan.outcomes):
        if o.applied and o.external:
            name, to, value = o.external
            dest = os.path.join(os.path.dirname(os.path.abspath(path)), os.path.basename(name))
            new, why = _external_text(dest, to, value, path)
            if new is None:
                blocked[i] = why
            else:
                externals[dest] = new
    if blocked:  # redo without the moves whose destination conflicts
        keep = [i for i in range(len(fixes)) if i not in blocked]
        doc, plan2 = attempt([fixes[i] for i in keep], [rules[i] for i in keep])
        outcomes = []
        it = iter(plan2.outcomes)
        for i, o in enumerate(plan.outcomes):
            outcomes.append(next(it) if i not in blocked else
                            type(o)(o.fix, False, blocked[i], o.rule))
        plan.outcomes = outcomes
    new_text = tomlkit.dumps(doc)
    check_same_values(new_text, expected_values(data, plan.outcomes), "fix")
    messages = [m for _f, _r, m in found]
    changed = new_text != text
    if fmt == "json":
        sys.stdout.write(json.dumps({
            "schema_version": 1, "file": path, "dry_run": dry_run, "changed": changed,
            "fixes": [_shown_fix(o, m) for o, m in zip(plan.outcomes, messages)],
            "also_written": sorted(externals)}, indent=2, default=str) + "\n")
    if dry_run:
        if fmt == "text":
            from mdmtool.commands.merge import unified
            sys.stdout.write(unified(text, new_text, path))
            for dest, new in externals.items():
                old = read_text(dest) if os.path.exists(dest) else ""
                sys.stdout.write(unified(old, new, dest))
            _report(plan, messages, path, would=True)
        return EXIT_FINDINGS if (changed or plan.skipped) else EXIT_OK
    from mdmtool.atomic import atomic_write_text
    for dest, new in externals.items():  # the moved settings land before they leave FILE
        atomic_write_text(dest, new, backup=backup)
    if changed:
        atomic_write_text(path, new_text, backup=backup)
    if fmt == "text":
        _report(plan, messages, path, would=False)
    return EXIT_FINDINGS if plan.skipped else EXIT_OK


def _shown_fix(outcome, message: str) -> dict:
    """One fix of the JSON report, secrets hidden (values, description, message)."""
    from mdmtool.model import Finding, Source
    from mdmtool.redact import safe_finding
    f = safe_finding(Finding(outcome.rule or "", "info", message, Source(), outcome.description,
                             fix=outcome.fix if isinstance(outcome.fix, dict) else None))
    return {"rule": outcome.rule, "applied": outcome.applied, "description": f.remediation,
            "message": f.message, "fix": f.fix}


def _report(plan, messages: list[str], path: str, *, would: bool) -> None:
    verb = "would fix" if would else "fixed"
    lines = []
    for o, m in zip(plan.outcomes, messages):
        tag = f"[{o.rule}] " if o.rule else ""
        if o.applied:
            lines.append(f"{path}: {verb}: {tag}{o.description} ({m})")
        else:
            lines.append(f"{path}: not fixed: {tag}{m}: {o.description}")
    n, s = len(plan.applied), len(plan.skipped)
    lines.append(f"{path}: {n} fix{'es' if n != 1 else ''} {'to apply' if would else 'applied'}"
                 + (f", {s} need a hand" if s else ""))
    from mdmtool.redact import redact_text
    print(redact_text("\n".join(lines)), file=sys.stderr if not would else sys.stdout)
