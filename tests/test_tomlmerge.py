"""Comment-preserving merge: agrees with the plain Codex merge, keeps untouched lines."""

from __future__ import annotations

import difflib
import json
import tomllib
from pathlib import Path

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
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
    removed, _added = changed_lines(text, merged)
    for line in removed:  # only the replaced keys' own lines may change
        stripped = line.strip()
        assert stripped == "" or stripped.startswith(("approval_policy", "network_access")), line


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


def _render(data: dict, style: int) -> str:
    """Render a dict as TOML in one of several layouts (tables, inline, dotted keys)."""
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


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=_tables, overlay=_tables, bs=st.integers(0, 3), os_=st.integers(0, 3))
def test_agrees_with_plain_codex_merge(base, overlay, bs, os_):
    base_text, overlay_text = _render(base, bs), _render(overlay, os_)
    expected = merge_values(tomllib.loads(base_text), tomllib.loads(overlay_text))
    try:
        out = merge_text(base_text, overlay_text)
    except MdmError:
        # tomlkit cannot edit some tables split over nested dotted keys; then we refuse
        # cleanly (nothing written) rather than write a file that means something else
        assert bs == 3 and overlay
        return
    assert _same(tomllib.loads(out), expected)
    if not overlay:
        assert out == base_text


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
