"""Configs that differ only by the trust entries Codex appends are parsed from a shared
head: the result must be exactly a full parse, and anything else must fall back."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdmtool.lint.context import LintFile, _with_trust_tail
from mdmtool.tomlio import parse_toml

HEADS = ["", 'model = "o3"\n', 'model = "o3"\n\n[tui]\nnotifications = true\n',
         'approval_policy = "never"\n[features]\nshell_tool = true\n[mcp_servers.docs]\ncommand = "npx"\n']


def _full(text: str):
    try:
        return parse_toml(text, "config.toml")
    except Exception:  # noqa: BLE001 - any refusal: the fast path must not answer
        return None


@pytest.mark.parametrize("text", [
    'model = "o3"\n\n[projects."/home/u/a"]\ntrust_level = "trusted"\n\n[projects."/x y"]\ntrust_level = "untrusted"\n',
    '[projects."/a"]\ntrust_level = "trusted"\n',
    '[projects."/a"]\n',
    'model = "o3"\n[tui]\nx = 1\n[projects."/a"]\ntrust_level = "trusted"',
    'model = "o3"\n[projects."/ünïcode path"]\ntrust_level = "trusted"\n',
])
def test_trust_tail_equals_a_full_parse(text):
    got = _with_trust_tail(text, "config.toml")
    assert got is not None and got == tomllib.loads(text)
    assert list(got) == list(tomllib.loads(text))  # key order too


@pytest.mark.parametrize("text", [
    'model = "o3"\n[projects."/a"]\ntrust_level = "trusted"\n[projects."/a"]\n',  # declared twice
    'model = "o3"\n[projects."/a"]\ntrust_level = "trusted"\ntrust_level = "trusted"\n',
    'model = "o3"\n[projects]\n[projects."/a"]\ntrust_level = "trusted"\n',  # head defines it
    'projects = {}\n[projects."/a"]\ntrust_level = "trusted"\n',
    '"pro\\u006aects" = {}\n[projects."/a"]\ntrust_level = "trusted"\n',  # spelled with an escape
    'a = """\n[projects."/a"]\n"""\n[projects."/b"]\ntrust_level = "trusted"\n',  # inside a string
    'x = [\n[projects."/a"]\ntrust_level = "trusted"\n',
    'model = "o3"\n[projects."/a"]\ntrust_level = "maybe"\n',
    'model = "o3"\n[projects."/a\\u0041"]\ntrust_level = "trusted"\n',  # escapes
    'model = "o3"\n[projects."/a"]\ntrust_level = "trusted" # mine\n',  # comment
    'model = "o3"\r\n[projects."/a"]\r\ntrust_level = "trusted"\r\n',
    'model = "o3"\n[projects."/a"]\nother = 1\n',
])
def test_anything_else_is_parsed_whole(text):
    assert _with_trust_tail(text, "config.toml") is None


_path = st.text(alphabet=st.sampled_from('/ab. -_é"\\\t#[]='), max_size=12)
_entry = st.tuples(_path, st.sampled_from(["", 'trust_level = "trusted"', 'trust_level = "untrusted"',
                                           'trust_level = "bogus"', "x = 1", "# note"]))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@settings(max_examples=300, deadline=None)
@given(head=st.sampled_from(HEADS), entries=st.lists(_entry, max_size=4),
       gaps=st.lists(st.sampled_from(["", "\n", " \n"]), min_size=4, max_size=4))
def test_fast_path_never_differs_from_a_full_parse(head, entries, gaps):
    text = head + "".join(f'[projects."{p}"]\n{kv}\n{gaps[i % 4]}' for i, (p, kv) in enumerate(entries))
    got = _with_trust_tail(text, "config.toml")
    if got is not None:
        assert got == _full(text)
    # and a lint file reads the same data either way
    f = LintFile("config.toml", "user", text)
    assert (f.data if f.ok else None) == _full(text)


# ----------------------------------------------------------------------------- fleet sharing

def _user(text: str) -> LintFile:
    return LintFile("/fleet/h/home/u/.codex/config.toml", "user", text)


def test_hosts_share_results_when_only_plain_trust_entries_differ():
    from mdmtool.lint.fleet import _share_key
    a = _user('model = "o3"\n\n[projects."/home/ann/src/app"]\ntrust_level = "trusted"\n')
    b = _user('model = "o3"\n\n[projects."/home/bob/work"]\ntrust_level = "untrusted"\n')
    c = _user('model = "o3"\n')  # no entries at all: not the same text, so not shared
    assert _share_key(a, True) == _share_key(b, True) != _share_key(c, True)
    assert _share_key(a, False) == a.sha  # a project layer on the host: its trust matters
    assert _share_key(LintFile("/etc/codex/config.toml", "system", a.text), True) == a.sha


@pytest.mark.parametrize("entry", ["/", "/home/ann", "/home", "/etc", "/tmp", "relative/path", "C:\\\\src"])
def test_entries_a_rule_reads_keep_the_file_its_own(entry):
    from mdmtool.lint.fleet import _share_key
    f = _user(f'model = "o3"\n\n[projects."{entry}"]\ntrust_level = "trusted"\n')
    assert _share_key(f, True) == f.sha  # MDM310 (broad trust) or the resolver may see it
