"""Reading TOML like Codex: values, positions, errors with file:line:col, -c parsing."""

from __future__ import annotations

import pytest

from mdmtool.errors import MdmError
from mdmtool.tomlio import TomlSyntaxError, parse_override, parse_toml, read_toml
from mdmtool.tomlpos import fold_multiline_inline_tables, scan_positions

DOC = '''# comment
approval_policy = "never"  # trailing
[sandbox_workspace_write]
writable_roots = [
  "/a",
  "/b",
]
"network_access" = true

[permissions.p.filesystem]
":workspace_roots" = { "." = "write", "x" = "deny" }

[[rules.prefix_rules]]
pattern = [{ token = "rm" }]
[[rules.prefix_rules]]
decision = "prompt"
'''


def test_positions_of_keys_headers_and_elements():
    pos = scan_positions(DOC)
    assert pos[("approval_policy",)] == (2, 1)
    assert pos[("sandbox_workspace_write",)] == (3, 1)
    assert pos[("sandbox_workspace_write", "writable_roots", 1)] == (6, 3)
    assert pos[("sandbox_workspace_write", "network_access")] == (8, 1)
    assert pos[("permissions", "p", "filesystem", ":workspace_roots", "x")] == (11, 39)
    assert pos[("rules", "prefix_rules", 0, "pattern", 0, "token")] == (14, 14)
    assert pos[("rules", "prefix_rules", 1, "decision")] == (16, 1)


def test_locate_falls_back_to_the_nearest_ancestor(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text(DOC)
    tf = read_toml(str(p))
    assert tf.locate(("sandbox_workspace_write", "missing")).line == 3
    assert str(tf.locate(("approval_policy",))) == f"{p}:2:1"


def test_syntax_error_names_file_line_and_col():
    with pytest.raises(TomlSyntaxError) as exc:
        parse_toml("a = 1\napproval_policy = never\n", "cfg.toml")
    assert (exc.value.file, exc.value.line, exc.value.col) == ("cfg.toml", 2, 19)
    assert str(exc.value).startswith("cfg.toml:2:19: invalid TOML")


def test_duplicate_keys_are_rejected_like_codex():
    with pytest.raises(TomlSyntaxError) as exc:
        parse_toml('model = "a"\nmodel = "b"\n', "dup.toml")
    assert exc.value.line == 2


def test_multiline_inline_table_with_trailing_comma_is_accepted():
    text = '[x]\nt = {\n  a = 1, # one\n  b = [1, 2],\n}\nafter = true\n'
    assert parse_toml(text, "f") == {"x": {"t": {"a": 1, "b": [1, 2]}, "after": True}}
    folded = fold_multiline_inline_tables(text)
    assert len(folded) == len(text)
    assert scan_positions(text)[("x", "after")] == (6, 1)


def test_bom_crlf_and_encoding(tmp_path):
    p = tmp_path / "bom.toml"
    p.write_bytes('\ufeffmodel = "m"\r\nweb_search = "live"\r\n'.encode())
    assert read_toml(str(p)).data == {"model": "m", "web_search": "live"}
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'model = "caf\xe9"\n')
    with pytest.raises(TomlSyntaxError) as exc:
        read_toml(str(bad))
    assert (exc.value.line, exc.value.col) == (1, 13)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(MdmError) as exc:
        read_toml(str(tmp_path / "nope.toml"))
    assert "no such file" in str(exc.value)


@pytest.mark.parametrize("spec,expected", [
    ('approval_policy="never"', (["approval_policy"], "never")),
    ("model=o3", (["model"], "o3")),                      # not TOML: literal string
    ("sandbox_workspace_write.network_access=true", (["sandbox_workspace_write", "network_access"], True)),
    ("x=[1, 2]", (["x"], [1, 2])),
    ('k={a = 1}', (["k"], {"a": 1})),
    ("q='quoted", (["q"], "quoted")),                     # quotes trimmed on fallback
    ('projects."/p".trust_level="trusted"', (["projects", '"/p"', "trust_level"], "trusted")),
])
def test_override_parsing_matches_codex(spec, expected):
    assert parse_override(spec) == expected


@pytest.mark.parametrize("spec,msg", [("novalue", "missing '='"), ("=1", "Empty key")])
def test_bad_overrides(spec, msg):
    with pytest.raises(MdmError, match=msg):
        parse_override(spec)
