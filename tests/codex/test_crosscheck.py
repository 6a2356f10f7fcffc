"""`mdmtool crosscheck` against the real Codex 0.169.0 (skipped cleanly when absent).

Each test builds a small machine (system dir, CODEX_HOME, project) from real files,
runs the command end to end and checks the verdict, the exit code and that the
machine's files are byte-for-byte unchanged afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from mdmtool.errors import EXIT_FINDINGS, EXIT_OK, MdmError

pytestmark = pytest.mark.codex


def _snapshot(root: str) -> dict[str, str]:
    out = {}
    for d, _dirs, files in os.walk(root):
        for name in files:
            p = os.path.join(d, name)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def _machine(root: str, files: dict[str, str]) -> tuple[str, str, str, str]:
    for rel, text in files.items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w", encoding="utf-8") as fh:
            fh.write(text.replace("@ROOT@", root))
    etc, home, proj = (os.path.join(root, n) for n in ("etc", "home", "proj"))
    for d in (etc, home, proj):
        os.makedirs(d, exist_ok=True)
    return root, etc, home, proj


def _run(capsys, codex_bin, etc, home, proj, *, extra=None, **kw):
    from mdmtool.commands.crosscheck import run_crosscheck
    from mdmtool.model import ResolveInputs
    inputs = ResolveInputs(system_dir=etc, codex_home=home, cwd=proj, **(extra or {}))
    rc = run_crosscheck(inputs, fmt="json", codex_bin=codex_bin, **kw)
    return rc, json.loads(capsys.readouterr().out)


MACHINE = {
    "etc/requirements.toml": 'allowed_sandbox_modes = ["read-only", "workspace-write"]\n'
                             'allowed_approval_policies = ["on-failure", "on-request"]\n',
    "home/config.toml": 'approval_policy = "never"\nsandbox_mode = "danger-full-access"\n'
                        'model_instructions_file = "extra.md"\n\n[mcp_servers.shell]\ncommand = "sh"\n\n'
                        '[projects."@ROOT@/proj"]\ntrust_level = "trusted"\n',
    "home/extra.md": "Be brief.\n",
    "home/auth.json": '{"never": "copied"}\n',
    "proj/.codex/config.toml": 'web_search = "indexed"\nnetwork_access = true\n',
}


def test_agreement_on_a_machine_and_nothing_touched(codex_bin, codex_scratch, capsys):
    root, etc, home, proj = _machine(os.path.join(codex_scratch, "m1"), MACHINE)
    before = _snapshot(root)
    rc, doc = _run(capsys, codex_bin, etc, home, proj)
    assert rc == EXIT_OK, doc
    assert doc["agree"] and doc["codex"]["version"] == "0.169.0" and doc["codex"]["version_matches"]
    fields = {f["field"]: f for f in doc["fields"]}
    assert fields["sandbox_mode"]["codex"] == "read-only" and fields["approval_policy"]["codex"] == "on-request"
    assert fields["web_search"]["codex"] == "indexed"
    assert len(fields["warnings"]["codex"]) == 3  # sandbox fallback, approval fallback, unknown key
    assert doc["mcp_servers_not_started"] == ["shell"]  # `sh` exists: crosscheck never runs it
    assert not any(p.endswith("auth.json") for p in doc["copied_files"])
    assert _snapshot(root) == before


@pytest.mark.parametrize("name,files", [
    ("req_glob", {"etc/requirements.toml": '[permissions.filesystem]\ndeny_read = ["/**/*.pem"]\n'}),
    ("required_mcp", {"home/config.toml": '[mcp_servers.docs]\ncommand = "no-such-docs-mcp"\nrequired = true\n'}),
    ("catalog", {"home/config.toml": 'model_catalog_json = "catalog.json"\n'}),
])
def test_agreement_when_codex_refuses_to_start(name, files, codex_bin, codex_scratch, capsys):
    root, etc, home, proj = _machine(os.path.join(codex_scratch, name), files)
    before = _snapshot(root)
    rc, doc = _run(capsys, codex_bin, etc, home, proj, observe_web_search=False)
    assert rc == EXIT_OK, doc
    fields = {f["field"]: f for f in doc["fields"]}
    assert fields["starts"] == {"field": "starts", "mdmtool": False, "codex": False, "agree": True}
    assert fields["error"]["agree"] and doc["explanations"][0]["explanation"]
    assert _snapshot(root) == before


def test_a_difference_exits_1(codex_bin, codex_scratch, capsys):
    # a Codex that is started with one more -c than mdmtool knows about disagrees for real
    wrapper = os.path.join(codex_scratch, "codex-never")
    with open(wrapper, "w") as fh:
        fh.write(f"#!/bin/sh\nexec {codex_bin} -c 'approval_policy=\"never\"' \"$@\"\n")
    os.chmod(wrapper, 0o755)
    root, etc, home, proj = _machine(os.path.join(codex_scratch, "diff"), {"home/config.toml": 'model = "m"\n'})
    rc, doc = _run(capsys, wrapper, etc, home, proj, observe_web_search=False)
    assert rc == EXIT_FINDINGS
    diffs = {d["field"]: d for d in doc["differences"]}
    assert diffs["approval_policy"]["mdmtool"] == "on-request" and diffs["approval_policy"]["codex"] == "never"


def test_another_codex_version_is_named(codex_bin, codex_scratch, capsys):
    wrapper = os.path.join(codex_scratch, "codex-next")
    with open(wrapper, "w") as fh:
        fh.write('#!/bin/sh\nif [ "$1" = "--version" ]; then echo "codex-cli 0.170.2"; exit 0; fi\n'
                 f'exec {codex_bin} "$@"\n')
    os.chmod(wrapper, 0o755)
    root, etc, home, proj = _machine(os.path.join(codex_scratch, "ver"), {"home/config.toml": 'model = "m"\n'})
    from mdmtool.commands.crosscheck import render_text
    from mdmtool.crosscheck import crosscheck
    from mdmtool.model import ResolveInputs
    report = crosscheck(ResolveInputs(system_dir=etc, codex_home=home, cwd=proj), codex_bin=wrapper,
                        observe_web_search=False)
    assert report.codex_version == "0.170.2" and not report.version_matches
    text = render_text(report)
    assert "Codex 0.170.2 is installed, mdmtool models Codex 0.169.0" in text and "version drift" in text


def test_missing_codex_is_an_input_error(codex_scratch):
    from mdmtool.crosscheck import crosscheck
    from mdmtool.model import ResolveInputs
    with pytest.raises(MdmError, match="Codex CLI not found"):
        crosscheck(ResolveInputs(cwd=codex_scratch), codex_bin=os.path.join(codex_scratch, "no-codex"))


RECORDED = ["601_session_deny_glob_profile_root", "603_session_deny_glob_nonroot_ok",
            "612_session_mcp_required_missing", "615_session_mcp_required_not_allowed_ok",
            "622_session_instructions_missing_relative", "624_session_instructions_project_relative",
            "629_session_agent_config_missing", "642_wrong_table_policy_after_features",
            "651_req_madeup_format", "661_rewrite_fs_none_alias", "673_req_prefix_nested_list",
            "690_req_mcp_identity_match_required"]


@pytest.mark.parametrize("name", RECORDED)
def test_crosscheck_agrees_on_recorded_issue9_cases(name, codex_bin, codex_scratch):
    """The machine of each recorded case, checked live: mdmtool and the installed Codex agree."""
    from mdmtool.crosscheck import crosscheck
    from tests.casekit import materialise
    from tests.oracle_compare import inputs_for
    case = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "cases", name)
    m = materialise(case, os.path.join(codex_scratch, "recorded"))
    before = _snapshot(m.work)
    report = crosscheck(inputs_for(m), codex_bin=codex_bin, observe_web_search=False)
    assert report.agree, [f.to_json() for f in report.differences]
    assert _snapshot(m.work) == before
