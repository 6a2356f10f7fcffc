"""Comment-preserving merge: agrees with the plain Codex merge, keeps untouched lines."""

from __future__ import annotations

import difflib
import json
import os
import random
import re
import tomllib
from pathlib import Path

import pytest
import tomlkit
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mdmtool.diff import _same
from mdmtool.errors import MdmError
from mdmtool.merge import merge_values
from mdmtool.tomlio import parse_toml
from mdmtool.tomlmerge import merge_text

ROOT = Path(__file__).resolve().parent.parent


def _fixture_tomls() -> list[Path]:
    out = []
    for p in sorted((ROOT / "fixtures").rglob("*.toml")):
        try:
            parse_toml(p.read_text(encoding="utf-8"), str(p))
        except MdmError:
            continue  # deliberately broken fixtures (syntax-error cases)
        out.append(p)
    return out


FIXTURE_TOMLS = _fixture_tomls()


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    """(lines removed or rewritten, lines added) between two texts."""
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    removed, added = [], []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op in ("delete", "replace"):
            removed.extend(a[i1:i2])
        if op in ("insert", "replace"):
            added.extend(b[j1:j2])
    return removed, added


def removed_line_numbers(before: str, after: str) -> list[int]:
    """Indexes of the lines of ``before`` that are removed or rewritten in ``after``."""
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    return [i for op, i1, i2, _j1, _j2
            in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
            if op in ("delete", "replace") for i in range(i1, i2)]


_KEY = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*'))*"""
_HEADER_RE = re.compile(rf"\s*\[\[?\s*({_KEY})\s*\]\]?\s*(#.*)?$")
_KEYLINE_RE = re.compile(rf"\s*({_KEY})\s*=")


def _key_path(key_text: str) -> tuple:
    node, path = tomllib.loads(f"{key_text} = 0"), []
    while isinstance(node, dict):
        (k, node), = node.items()
        path.append(k)
    return tuple(path)


def _scan(line: str, ml: str | None) -> tuple[list[str], str | None]:
    """The brackets of ``line`` outside strings and comments, and the multi-line string
    delimiter still open at its end (``ml``: the one open at its start)."""
    out, i = [], 0
    while i < len(line):
        if ml:
            j = line.find(ml, i)
            if j < 0:
                return out, ml
            i, ml = j + 3, None
            continue
        c = line[i]
        if line.startswith(('"""', "'''"), i):
            ml, i = line[i:i + 3], i + 3
        elif c in "\"'":
            j = i + 1
            while j < len(line) and line[j] != c:
                j += 2 if c == '"' and line[j] == "\\" else 1
            i = j + 1
        elif c == "#":
            break
        else:
            if c in "[]{}":
                out.append(c)
            i += 1
    return out, ml


def _open_brackets(brackets: list[str]) -> list[str]:
    """The brackets left open by ``brackets``, outermost first."""
    stack: list[str] = []
    for c in brackets:
        if c in "[{":
            stack.append(c)
        elif stack:
            stack.pop()
    return stack


def owned_lines(text: str, paths: list[tuple]) -> set[int]:
    """Indexes of the lines of ``text`` that belong to the keys at ``paths``: their key lines
    (with the lines of a multi-line value), or the ``[header]`` sections of those tables and
    of the tables below them (comments included). Replacing those keys may remove exactly
    these lines."""
    def related(path: tuple, whole: bool) -> bool:  # whole: the line holds the entire value
        return any(path[:len(p)] == p or (whole and p[:len(path)] == path) for p in paths)

    owned, section, section_owned, ml = set(), (), False, None
    stack: list[tuple[str, tuple]] = []  # open brackets of multi-line values, with key paths
    for i, line in enumerate(text.splitlines()):
        header = None if stack or ml else _HEADER_RE.match(line)
        keyline = None if header or ml or (stack and stack[-1][0] != "{") else _KEYLINE_RE.match(line)
        rest, path = line, stack[-1][1] if stack else section
        if ml:  # inside a multi-line string: part of the value being written
            mine = related(path, True) if stack or path != section else section_owned
        elif header:
            section, rest = _key_path(header.group(1)), ""
            mine = section_owned = related(section, False)
        elif keyline:
            path, rest = path + _key_path(keyline.group(1)), line[keyline.end():]
            opens_table = next(iter(_open_brackets(_scan(rest, None)[0])), "") == "{"
            mine = (section_owned and not stack) or related(path, not opens_table)
        elif stack:  # a line inside a multi-line array, or an inline table's last line
            mine = related(path, stack[-1][0] == "[")
        else:  # comment or blank line: part of the section it is in
            mine = section_owned
        if mine:
            owned.add(i)
        was_ml = ml
        brackets, ml = _scan(rest, ml)
        if was_ml and not ml and not stack:  # the multi-line string value ended here
            path = section
        for c in brackets:
            if c in "[{":
                stack.append((c, path))
            elif stack:
                stack.pop()
    return owned


def test_owned_lines():
    text = ('a = 1\napproval_policy = [\n  "x",\n]\nb = 2\n[approval_policy.granular]\n'
            'rules = true\n# note\n["sandbox_workspace_write"]\nx = 1\nnetwork_access = true\n')
    assert owned_lines(text, [("approval_policy",), ("sandbox_workspace_write", "network_access")]) \
        == {1, 2, 3, 5, 6, 7, 10}
    text = ('sandbox_workspace_write = {\n  network_access = true,  # {\n  x = [\n    "]",\n  ],\n}\n'
            'y = """\nnetwork_access = 1\n[approval_policy]\n"""\n')
    assert owned_lines(text, [("approval_policy",), ("sandbox_workspace_write", "network_access")]) \
        == {1}


def test_enough_fixtures():
    assert len(FIXTURE_TOMLS) > 100


@pytest.mark.parametrize("path", FIXTURE_TOMLS, ids=lambda p: str(p.relative_to(ROOT)))
def test_fixture_round_trip_and_overlay(path):
    text = path.read_text(encoding="utf-8")
    assert tomlkit.dumps(tomlkit.parse(text)) == text
    assert merge_text(text, "") == text  # empty overlay: byte-identical
    tables = [k for k, v in parse_toml(text, "t").items() if isinstance(v, dict)]
    for name in tables[:2]:  # an empty overlay table over an existing table: no-op
        assert merge_text(text, f"{tomlkit.dumps({name: {}})}") == text
    overlay = ('approval_policy = "on-request"\n'
               '[sandbox_workspace_write]\nnetwork_access = false\n'
               '[mdmtool_roundtrip]\nadded = 1\n')
    merged = merge_text(text, overlay)  # every real fixture must merge (no refusal)
    assert _same(parse_toml(merged, "m"), merge_values(parse_toml(text, "t"), parse_toml(overlay, "o")))
    owned = owned_lines(text, [("approval_policy",), ("sandbox_workspace_write", "network_access")])
    lines = text.splitlines(keepends=True)
    for i in removed_line_numbers(text, merged):  # only the replaced keys' own lines may change
        assert i in owned or not lines[i].strip(), lines[i]


def test_comments_order_and_base_comment_kept():
    base = ('# header\nmodel = "gpt-5"  # default model\napproval_policy = "on-request"  # ask\n\n'
            '[features]\nshell_tool = true   # keep\n\n[sandbox_workspace_write]\n'
            'writable_roots = ["/srv/a"]  # shared\n')
    out = merge_text(base, 'approval_policy = "never"\n[sandbox_workspace_write]\n'
                     'writable_roots = ["/srv/b"]\nnetwork_access = true\n')
    assert out == ('# header\nmodel = "gpt-5"  # default model\napproval_policy = "never"  # ask\n\n'
                   '[features]\nshell_tool = true   # keep\n\n[sandbox_workspace_write]\n'
                   'writable_roots = ["/srv/b"]  # shared\nnetwork_access = true\n')


def test_arrays_replace_and_type_changes():
    out = merge_text('a = [1, 2]\nb = 1\n[t]\nx = 1\n', 'a = [3]\nb = { k = 1 }\nt = "flat"\n')
    assert tomllib.loads(out) == {"a": [3], "b": {"k": 1}, "t": "flat"}


def test_empty_table_overlay_is_a_noop_but_adds_missing_tables():
    base = '[mcp_servers.docs]\ncommand = "codex-mcp"\n'
    assert merge_text(base, "mcp_servers = {}\n") == base
    out = merge_text('model = "x"\n', "[mcp_servers]\n")
    assert tomllib.loads(out) == {"model": "x", "mcp_servers": {}}


def test_dotted_overlay_keys_never_land_in_the_wrong_table():
    base = 'model = "x"\n\n[features]\nshell_tool = true\n'
    out = merge_text(base, 'sandbox_workspace_write.network_access = true\ntui.theme = "dark"\n')
    assert tomllib.loads(out) == {"model": "x", "features": {"shell_tool": True},
                                  "sandbox_workspace_write": {"network_access": True},
                                  "tui": {"theme": "dark"}}
    assert out.startswith(base)


def test_out_of_order_and_inline_tables():
    base = '[a]\nx = 1\n[b]\ny = 2\n[a.c]\nz = 3\n[m]\nenv = { A = "1" }\n'
    out = merge_text(base, '[a.c]\nw = 4\n[a]\nv = 0\n[m.env]\nB = "2"\n')
    assert tomllib.loads(out) == {"a": {"x": 1, "v": 0, "c": {"z": 3, "w": 4}}, "b": {"y": 2},
                                  "m": {"env": {"A": "1", "B": "2"}}}


def test_bad_inputs_name_the_file():
    with pytest.raises(MdmError) as exc:
        merge_text("a = 1\n", "b = \n", overlay_name="over.toml")
    assert exc.value.file == "over.toml" and exc.value.line == 1


# ----------------------------------------------------------------------------- property test

_keys = st.sampled_from(["a", "b", "c", "sandbox_mode", "x-y", "net", "k"])
_scalars = st.one_of(st.integers(-5, 5), st.booleans(), st.text("abc xyz", max_size=5),
                     st.lists(st.integers(0, 3), max_size=3),
                     st.lists(st.dictionaries(_keys, st.integers(0, 3), min_size=1, max_size=2),
                              min_size=1, max_size=2))  # arrays of tables
_tables = st.recursive(st.dictionaries(_keys, _scalars, max_size=4),
                       lambda inner: st.dictionaries(_keys, st.one_of(_scalars, inner), max_size=4),
                       max_leaves=12)


def _dotted_lines(data: dict, prefix: tuple = ()) -> list[str]:
    lines = []
    for k, v in data.items():
        if isinstance(v, dict) and v:
            lines += _dotted_lines(v, prefix + (k,))
        else:
            key = ".".join(json.dumps(p) for p in prefix + (k,))
            value = tomlkit.dumps({"_": _inline_plain(v)}).split("=", 1)[1].strip()
            lines.append(f"{key} = {value}  # dotted")
    return lines


def _inline_plain(v):
    if isinstance(v, dict):
        t = tomlkit.inline_table()
        for k, x in v.items():
            t[k] = _inline_plain(x)
        return t
    if isinstance(v, list):
        a = tomlkit.array()
        for x in v:
            a.append(_inline_plain(x))
        return a
    return v


def _value_text(v) -> str:
    return tomlkit.dumps({"_": _inline_plain(v)}).split("=", 1)[1].strip()


def _render_mixed(data: dict, seed: int) -> str:
    """Render a dict as a hand-written file might look: each table as a ``[header]`` section
    (sections shuffled, so tables come out of order; a header only for tables that hold
    values of their own, else left implicit), as dotted keys inside its parent's section,
    or inline; arrays of tables as ``[[header]]`` blocks or inline; comments here and there."""
    rng = random.Random(seed)
    root: list[str] = []
    sections: list[list[str]] = []

    def line(keypath: tuple, v) -> str:
        key = ".".join(json.dumps(p) if rng.random() < 0.3 else _bare(p) for p in keypath)
        return f"{key} = {_value_text(v)}" + ("  # why" if rng.random() < 0.3 else "")

    def visit(path: tuple, node: dict) -> None:
        lines, later = [], []
        for k, v in node.items():
            mode = rng.choice(["header", "dotted", "inline"])
            if isinstance(v, dict) and mode == "header":
                later.append((path + (k,), v))
            elif isinstance(v, dict) and mode == "dotted" and v:
                lines += [ln.replace("  # dotted", "") for ln in _dotted_lines(v, (k,))]
            elif (isinstance(v, list) and v and all(isinstance(x, dict) for x in v)
                  and mode != "inline"):
                name = ".".join(_bare(p) for p in path + (k,))
                sections.append([f"{chr(10) * rng.randint(0, 1)}[[{name}]]\n"
                                 + "".join(line((kk,), vv) + "\n" for kk, vv in el.items())
                                 for el in v])
            else:
                lines.append(line((k,), v))
        if not path:
            root.extend(ln + "\n" for ln in lines)
        elif lines or not node or rng.random() < 0.5:  # else implicit (no header of its own)
            head = "[" + ".".join(_bare(p) for p in path) + "]" + ("  # t" if rng.random() < 0.2 else "")
            blank = "\n" if rng.random() < 0.7 else ""
            sections.append([blank + head + "\n" + "".join(ln + "\n" for ln in lines)])
        for sub_path, sub in later:
            visit(sub_path, sub)

    visit((), data)
    rng.shuffle(sections)
    text = ("# mixed\n" if rng.random() < 0.5 else "") + "".join(root)
    text += "".join("".join(block) for block in sections)
    assert tomllib.loads(text) == data, text  # the renderer itself must be right
    return text


def _bare(key: str) -> str:
    return key if key.replace("-", "").replace("_", "").isalnum() else json.dumps(key)


def _render(data: dict, style: int) -> str:
    """Render a dict as TOML in one of several layouts (tables, inline, dotted keys, and from
    style 4 on a shuffled hand-written mix, seeded by the style number)."""
    if style >= 4:
        return _render_mixed(data, style)
    if style == 0:
        return tomlkit.dumps(data)
    if style == 3:
        return "\n".join(["# dotted keys"] + _dotted_lines(data)) + "\n"
    doc = tomlkit.document()
    doc.add(tomlkit.comment("generated"))
    for k, v in data.items():
        if isinstance(v, dict) and style == 1:
            inline = tomlkit.inline_table()
            inline.update(v)
            doc[k] = inline
        elif isinstance(v, dict) and style == 2 and v and not any(isinstance(x, dict) for x in v.values()):
            tab = tomlkit.table(is_super_table=False)
            for kk, vv in v.items():
                tab.add(kk, vv)
                tab.item(kk).comment("c")
            doc[k] = tab
        else:
            doc[k] = v
    return tomlkit.dumps(doc)


def test_tables_merged_into_an_inline_table_stay_inline():
    out = merge_text('a = {}\nb = { x = 1 }\n', '[a.a]\nk = [{ z = 1 }]\n[b.y]\nq = 2\n')
    assert len(out.splitlines()) == 2  # still two inline-table lines
    assert tomllib.loads(out) == {"a": {"a": {"k": [{"z": 1}]}}, "b": {"x": 1, "y": {"q": 2}}}


_styles = st.one_of(st.integers(0, 3), st.integers(4, 2**16))  # >= 4: seeds of the mixed layout

# Derandomized so CI runs the same examples every time; search harder locally with e.g.
# MDMTOOL_PROPERTY_EXAMPLES=5000 python -m pytest tests/test_tomlmerge.py -k agrees_with_plain
# (and MDMTOOL_PROPERTY_RANDOM=1 to explore new examples instead of the fixed ones).
PROPERTY = settings(max_examples=int(os.environ.get("MDMTOOL_PROPERTY_EXAMPLES", "600")),
                    derandomize=not os.environ.get("MDMTOOL_PROPERTY_RANDOM"), deadline=None,
                    database=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(base=_tables, overlay=_tables, bs=_styles, os_=_styles,
       base_nl=st.booleans(), overlay_nl=st.booleans())
@example(base={"c": {"b": [{"a": 0}]}}, overlay={"a": 0, "c": {"a": 0}}, bs=0, os_=1,
         base_nl=True, overlay_nl=True)  # a key taken from an inline table had no newline
@example(base={"b": {"a": {"a": 0}}}, overlay={"a": 0}, bs=3, os_=0, base_nl=False,
         overlay_nl=False)  # a key added after a last dotted line without a newline
@example(base={"a": 0, "c": {"a": 0}}, overlay={"a": {"a": 0}, "b": 0}, bs=4, os_=3,
         base_nl=False, overlay_nl=False)
@example(base={"a": 0, "c": {"a": {}, "b": {}, "c": 0}}, overlay={"c": {"a": 0, "b": 0}}, bs=3,
         os_=0, base_nl=True, overlay_nl=True)  # a split table's parts move as keys change
def test_agrees_with_plain_codex_merge(base, overlay, bs, os_, base_nl, overlay_nl):
    base_text, overlay_text = _render(base, bs), _render(overlay, os_)
    if not base_nl:  # files whose last line has no newline
        base_text = base_text.rstrip("\n")
    if not overlay_nl:
        overlay_text = overlay_text.rstrip("\n")
    expected = merge_values(tomllib.loads(base_text), tomllib.loads(overlay_text))
    try:
        out = merge_text(base_text, overlay_text)
    except MdmError:
        # tomlkit rejects some valid layouts of [[arrays]] and out-of-order tables: then a
        # clean refusal (nothing written) is right; any other refusal is a bug of ours
        assert not (_tomlkit_reads(base_text) and _tomlkit_reads(overlay_text))
        return
    assert _same(tomllib.loads(out), expected)
    if _same(expected, tomllib.loads(base_text)):  # nothing changes: byte for byte
        assert out == base_text


def _tomlkit_reads(text: str) -> bool:
    try:
        tomlkit.parse(text)
    except tomlkit.exceptions.TOMLKitError:
        return False
    return True


def test_tomlkit_limitation_is_a_clean_refusal():
    base = "[[c.a.x]]\n[c.a]\nb = 4\n[c]\n[[c.a.y]]\n"  # valid TOML that tomlkit rejects
    assert tomllib.loads(base)["c"]["a"]["b"] == 4 and not _tomlkit_reads(base)
    with pytest.raises(MdmError, match="keeping its formatting"):
        merge_text(base, "k = 1\n")


def test_a_merge_that_changes_nothing_returns_the_file_byte_for_byte():
    base = "[[b.b]]\na = 0\n\n[[a]]\na = 0\n\n[[b.a]]\na = 0\n"
    assert tomlkit.dumps(tomlkit.parse(base)) != base  # tomlkit moves [[b.a]] up
    assert merge_text(base, "") == base
    assert merge_text(base, "[[a]]\na = 0\n") == base  # same value
    out = merge_text(base, "k = 1\n")
    assert tomllib.loads(out) == {**tomllib.loads(base), "k": 1}


def test_a_table_spread_over_dotted_lines_replaced_by_a_value():
    out = merge_text('c.a.a = 0\nc.a.c.a = 0\nc.a.c.b = 1\nz = 2\n', 'c = { a = { c = 0 } }\n')
    assert tomllib.loads(out) == {"c": {"a": {"a": 0, "c": 0}}, "z": 2}


def test_tables_split_over_dotted_keys():
    base = ('model = "x"\nsandbox_workspace_write.network_access = true  # net\n'
            'sandbox_workspace_write.writable_roots = ["/a"]\nfeatures.shell_tool = true\n\n'
            '[tui]\ntheme = "dark"\n')
    out = merge_text(base, '[sandbox_workspace_write]\nwritable_roots = ["/b"]\n'
                     'exclude_slash_tmp = true\n[sandbox_workspace_write.sub]\nx = 1\n')
    assert tomllib.loads(out) == {
        "model": "x", "features": {"shell_tool": True}, "tui": {"theme": "dark"},
        "sandbox_workspace_write": {"network_access": True, "writable_roots": ["/b"],
                                    "exclude_slash_tmp": True, "sub": {"x": 1}}}
    assert "sandbox_workspace_write.network_access = true  # net\n" in out
    assert out.endswith('[tui]\ntheme = "dark"\n')
