"""MDM payloads: build -> read round trips, profile structure, Codex's decoding rules.

Every test works on real files: templates from templates/, profiles written by
`mdmtool mdm build`, plists written with plistlib, CMS signatures made by openssl.
"""

from __future__ import annotations

import base64
import os
import plistlib
import shutil
import subprocess
import sys
import uuid

import pytest

from mdmtool.errors import MdmError
from mdmtool.mdm import (CONFIG_KEY, DOMAIN, REQUIREMENTS_KEY, MdmPayload, MdmPayloadError,
                         build_profile, read_payload)
from mdmtool.postures import POSTURES, template_path

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, "fixtures", "mdm")


def cli(*args: str, cwd: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "mdmtool", *args], capture_output=True,
                          text=True, cwd=cwd, env=full_env, timeout=120)


def text_of(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def write_plist(path: str, value, fmt=plistlib.FMT_XML) -> str:
    with open(path, "wb") as fh:
        plistlib.dump(value, fh, fmt=fmt)
    return path


# ----------------------------------------------------------------------------- build

@pytest.mark.parametrize("posture", POSTURES)
def test_round_trip_cli_gives_identical_toml(posture, tmp_path):
    req, man = template_path(posture, "requirements.toml"), template_path(posture, "managed_config.toml")
    out = tmp_path / f"{posture}.mobileconfig"
    r = cli("mdm", "build", "--requirements", req, "--managed-config", man, "-o", str(out),
            "--organization", "Example Corp")
    assert r.returncode == 0, r.stderr
    payload = read_payload(str(out))
    assert payload.requirements_toml == text_of(req)
    assert payload.config_toml == text_of(man)
    assert payload.kind == "profile" and payload.errors == []
    r = cli("mdm", "read", str(out), "--extract", str(tmp_path / "x"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert text_of(tmp_path / "x" / "requirements.toml") == text_of(req)
    assert text_of(tmp_path / "x" / "managed_config.toml") == text_of(man)


def test_profile_structure(tmp_path):
    req = text_of(template_path("strict", "requirements.toml"))
    man = text_of(template_path("strict", "managed_config.toml"))
    data = build_profile(req, man, display_name="Codex policy", organization="Example Corp",
                         identifier="com.example.codex")
    assert data.startswith(b"<?xml")
    profile = plistlib.loads(data)
    assert profile["PayloadType"] == "Configuration"
    assert profile["PayloadVersion"] == 1
    assert profile["PayloadIdentifier"] == "com.example.codex"
    assert profile["PayloadDisplayName"] == "Codex policy"
    assert profile["PayloadOrganization"] == "Example Corp"
    assert profile["PayloadScope"] == "System"
    outer = uuid.UUID(profile["PayloadUUID"])
    assert profile["PayloadUUID"] == str(outer).upper() and outer.version == 5
    content = profile["PayloadContent"]
    assert isinstance(content, list) and len(content) == 1
    payload = content[0]
    assert payload["PayloadType"] == DOMAIN
    assert payload["PayloadVersion"] == 1
    assert payload["PayloadIdentifier"].startswith("com.example.codex.")
    assert uuid.UUID(payload["PayloadUUID"]) != outer
    for key, text in ((REQUIREMENTS_KEY, req), (CONFIG_KEY, man)):
        value = payload[key]
        assert isinstance(value, str) and "\n" not in value and value.strip() == value
        assert base64.b64decode(value, validate=True).decode("utf-8") == text


def test_uuids_stable_for_same_content_and_change_with_it():
    req = 'allowed_approval_policies = ["on-request"]\n'
    a = build_profile(req, None)
    assert a == build_profile(req, None)  # byte-identical
    b = build_profile(req + "# changed\n", None)
    pa, pb = plistlib.loads(a), plistlib.loads(b)
    assert pa["PayloadUUID"] != pb["PayloadUUID"]
    assert pa["PayloadContent"][0]["PayloadUUID"] != pb["PayloadContent"][0]["PayloadUUID"]
    assert pa["PayloadIdentifier"] == pb["PayloadIdentifier"]  # updates replace the profile
    c = plistlib.loads(build_profile(req, None, display_name="Other"))
    assert c["PayloadUUID"] != pa["PayloadUUID"]


def test_uuid_options(tmp_path):
    req = template_path("open", "requirements.toml")
    given = "5b0e7e0a-1111-4c2b-9d3a-0123456789ab"
    out = tmp_path / "p.mobileconfig"
    r = cli("mdm", "build", "--requirements", req, "-o", str(out), "--uuid", given,
            "--identifier", "com.example.codex", "--display-name", "Codex (open)")
    assert r.returncode == 0, r.stderr
    profile = plistlib.loads(out.read_bytes())
    assert profile["PayloadUUID"] == given.upper()
    assert profile["PayloadContent"][0]["PayloadUUID"] == str(uuid.uuid5(uuid.UUID(given), DOMAIN)).upper()
    assert CONFIG_KEY not in profile["PayloadContent"][0]  # only what was given
    r = cli("mdm", "build", "--requirements", req, "-o", str(tmp_path / "q"), "--uuid", "nope")
    assert r.returncode == 2 and "not a UUID" in r.stderr
    assert not (tmp_path / "q").exists()
    r = cli("mdm", "build", "--requirements", req, "-o", str(tmp_path / "q"), "--identifier", "bad id!")
    assert r.returncode == 2 and "reverse-DNS" in r.stderr


def test_build_refuses_invalid_toml_with_position(tmp_path):
    bad = tmp_path / "requirements.toml"
    bad.write_text('allowed_approval_policies = ["on-request"]\nallowed_sandbox_modes = [\n')
    out = tmp_path / "out.mobileconfig"
    r = cli("mdm", "build", "--requirements", str(bad), "-o", str(out))
    assert r.returncode == 2
    assert f"{bad}:3:" in r.stderr or f"{bad}:2:" in r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists()


def test_build_refuses_schema_errors_and_writes_nothing(tmp_path):
    bad = tmp_path / "requirements.toml"
    bad.write_text('allowed_sandbox_modes = ["full"]\n')
    out = tmp_path / "out.mobileconfig"
    r = cli("mdm", "build", "--requirements", str(bad), "-o", str(out))
    assert r.returncode == 1
    assert "not written" in r.stderr
    # a schema finding (file:line:col) or the resolver's startup refusal names the file
    assert f"{bad}:1:" in r.stderr or f"refuse to start with this payload: failed to parse " \
        f"requirements layer {bad}: unknown variant `full`" in r.stderr
    assert not out.exists()


def test_build_refuses_empty_and_nothing(tmp_path):
    empty = tmp_path / "requirements.toml"
    empty.write_text("  \n")
    r = cli("mdm", "build", "--requirements", str(empty), "-o", str(tmp_path / "o"))
    assert r.returncode == 2 and "empty" in r.stderr
    r = cli("mdm", "build", "-o", str(tmp_path / "o"))
    assert r.returncode == 2 and "--requirements" in r.stderr
    r = cli("mdm", "build", "--requirements", str(tmp_path / "missing.toml"), "-o", str(tmp_path / "o"))
    assert r.returncode == 2 and "missing.toml: no such file" in r.stderr


def test_build_replaces_output_atomically(tmp_path):
    out = tmp_path / "codex.mobileconfig"
    out.write_text("old")
    os.chmod(out, 0o600)
    r = cli("mdm", "build", "--requirements", template_path("balanced", "requirements.toml"), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert read_payload(str(out)).requirements_toml == text_of(template_path("balanced", "requirements.toml"))
    assert oct(os.stat(out).st_mode & 0o777) == oct(0o600)
    assert [p.name for p in tmp_path.iterdir()] == ["codex.mobileconfig"]  # no temp left over


def test_build_to_stdout():
    r = subprocess.run([sys.executable, "-m", "mdmtool", "mdm", "build", "--requirements",
                        template_path("open", "requirements.toml"), "-o", "-"],
                       capture_output=True, env=dict(os.environ, PYTHONPATH=REPO), timeout=60)
    assert r.returncode == 0
    assert plistlib.loads(r.stdout)["PayloadContent"][0]["PayloadType"] == DOMAIN


# ----------------------------------------------------------------------------- read: formats

def test_read_flat_binary_plist_and_defaults_export(tmp_path):
    req = text_of(template_path("strict", "requirements.toml"))
    man = text_of(template_path("strict", "managed_config.toml"))
    values = {REQUIREMENTS_KEY: base64.b64encode(req.encode()).decode(),
              CONFIG_KEY: "  " + base64.b64encode(man.encode()).decode() + "\n"}  # whitespace trimmed
    binary = write_plist(str(tmp_path / "com.openai.codex.plist"), values, plistlib.FMT_BINARY)
    exported = write_plist(str(tmp_path / "export.plist"), values)  # `defaults export` is XML
    for path in (binary, exported):
        p = read_payload(path)
        assert isinstance(p, MdmPayload)
        assert (p.requirements_toml, p.config_toml, p.source, p.kind) == (req, man, path, "preferences")


def test_read_defaults_export_fixture():
    """A real `defaults export com.openai.codex -` document (XML plist of the domain)."""
    p = read_payload(os.path.join(FIXTURES, "defaults-export.plist"))
    assert p.requirements_toml.startswith("allowed_approval_policies")
    assert p.config_toml is None  # empty string = absent


def test_empty_value_is_absent(tmp_path):
    path = write_plist(str(tmp_path / "p.plist"), {REQUIREMENTS_KEY: "   ", CONFIG_KEY: ""})
    p = read_payload(path)
    assert p.requirements_toml is None and p.config_toml is None


@pytest.mark.parametrize("value, message", [
    ("YWJj\nZGVm", "line breaks"),
    ("not-base64!", "not valid standard base64"),
    ("YWJj ZGVm", "line breaks or spaces"),
    ("YWJjZA", "not valid standard base64"),  # missing padding
    (base64.b64encode(b"\xff\xfe = 1").decode(), "not UTF-8"),
    (b"raw data", "plist <data>"),
    (42, "must be a base64 string"),
])
def test_bad_values_fail_closed(tmp_path, value, message):
    path = write_plist(str(tmp_path / "p.plist"), {REQUIREMENTS_KEY: value})
    with pytest.raises(MdmPayloadError, match=message):
        read_payload(path)
    lenient = read_payload(path, strict=False)
    assert lenient.requirements_toml is None and len(lenient.errors) == 1
    r = cli("mdm", "read", path)
    assert r.returncode == 2 and message.split()[0] in r.stderr  # only a bad key: input error


def test_read_reports_toml_errors_with_position(tmp_path):
    bad = 'allowed_approval_policies = ["on-request"\nx = 1\n'
    path = write_plist(str(tmp_path / "p.plist"), {REQUIREMENTS_KEY: base64.b64encode(bad.encode()).decode()})
    r = cli("mdm", "read", path)
    assert r.returncode == 2
    assert f"{path} (requirements_toml_base64):2:" in r.stderr or \
        f"{path} (requirements_toml_base64):1:" in r.stderr
    assert "Traceback" not in r.stderr


def test_read_shows_findings_and_exit_1(tmp_path):
    text = 'allowed_sandbox_modes = ["workspace-write"]\nrequirement_typo = true\n'
    path = write_plist(str(tmp_path / "p.plist"), {REQUIREMENTS_KEY: base64.b64encode(text.encode()).decode()})
    r = cli("mdm", "read", path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert text in r.stdout
    assert "Codex would refuse to start with this payload: invalid value for " \
        "`allowed_sandbox_modes`" in r.stderr
    assert f"(set by {path} (requirements_toml_base64))" in r.stderr
    # schema findings carry file:line:col inside the decoded TOML
    assert f"{path} (requirements_toml_base64):2:" in r.stdout and "requirement_typo" in r.stdout
    r = cli("mdm", "read", path, "--format", "json")
    import json
    doc = json.loads(r.stdout)
    assert doc["mdm"]["payloads"][REQUIREMENTS_KEY]["toml"] == text
    assert doc["mdm"]["payloads"][CONFIG_KEY]["present"] is False
    assert doc["mdm"]["refuses_to_start"] and r.returncode == 1


def test_read_mcx_profile(tmp_path):
    req = 'allowed_web_search_modes = ["cached"]\n'
    profile = {"PayloadType": "Configuration", "PayloadVersion": 1, "PayloadIdentifier": "x",
               "PayloadUUID": str(uuid.uuid4()), "PayloadContent": [{
                   "PayloadType": "com.apple.ManagedClient.preferences", "PayloadVersion": 1,
                   "PayloadIdentifier": "x.mcx", "PayloadUUID": str(uuid.uuid4()),
                   "PayloadContent": {DOMAIN: {"Forced": [{"mcx_preference_settings": {
                       REQUIREMENTS_KEY: base64.b64encode(req.encode()).decode()}}]}}}]}
    p = read_payload(write_plist(str(tmp_path / "mcx.mobileconfig"), profile))
    assert p.requirements_toml == req and p.config_toml is None
    assert any("MCX" in n for n in p.notes)


def test_profile_without_or_with_two_codex_payloads(tmp_path):
    other = {"PayloadType": "Configuration", "PayloadContent": [{"PayloadType": "com.apple.wifi.managed"}]}
    with pytest.raises(MdmError, match="no com.openai.codex payload"):
        read_payload(write_plist(str(tmp_path / "a.mobileconfig"), other))
    two = plistlib.loads(build_profile("a = 1\n", None))
    two["PayloadContent"] *= 2
    with pytest.raises(MdmError, match="2 com.openai.codex payloads"):
        read_payload(write_plist(str(tmp_path / "b.mobileconfig"), two))


def test_not_a_plist_and_defaults_read_hint(tmp_path):
    junk = tmp_path / "junk.mobileconfig"
    junk.write_text("hello")
    r = cli("mdm", "read", str(junk))
    assert r.returncode == 2 and "not a property list" in r.stderr and "Traceback" not in r.stderr
    old = tmp_path / "defaults-read.txt"
    old.write_text('{\n    "requirements_toml_base64" = "YQ==";\n}\n')
    r = cli("mdm", "read", str(old))
    assert r.returncode == 2 and "defaults export com.openai.codex -" in r.stderr
    r = cli("mdm", "read", str(tmp_path / "missing.plist"))
    assert r.returncode == 2 and "no such file" in r.stderr


# ----------------------------------------------------------------------------- read: signed

def test_read_signed_fixture():
    """fixtures/mdm/signed-strict.mobileconfig: `openssl smime -sign -nodetach -outform der`
    over the profile built from templates/strict (self-signed test certificate)."""
    p = read_payload(os.path.join(FIXTURES, "signed-strict.mobileconfig"))
    assert p.kind == "signed-profile"
    assert any("NOT verified" in n for n in p.notes)
    assert p.requirements_toml == text_of(os.path.join(FIXTURES, "strict-requirements.toml"))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
@pytest.mark.parametrize("mode", ["der", "stream", "detached"])
def test_read_signed_made_by_openssl(tmp_path, mode):
    req = template_path("balanced", "requirements.toml")
    profile = tmp_path / "p.mobileconfig"
    profile.write_bytes(build_profile(text_of(req), None))
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-subj", "/CN=mdmtool-test", "-days", "2"],
                   check=True, capture_output=True)
    signed = tmp_path / "signed.mobileconfig"
    args = ["openssl", "cms", "-sign", "-in", str(profile), "-out", str(signed), "-signer", str(cert),
            "-inkey", str(key), "-outform", "DER", "-binary"]
    args += {"der": ["-nodetach"], "stream": ["-nodetach", "-stream"], "detached": []}[mode]
    subprocess.run(args, check=True, capture_output=True)
    if mode == "detached":
        r = cli("mdm", "read", str(signed))
        assert r.returncode == 2
        assert "signed" in r.stderr and "security cms -D" in r.stderr
        return
    p = read_payload(str(signed))
    assert p.requirements_toml == text_of(req) and p.kind == "signed-profile"
    r = cli("mdm", "read", str(signed))
    assert r.returncode == 0 and "signature NOT verified" in r.stdout


# ----------------------------------------------------------------------------- extract / effective

def test_extract_refuses_overwrite(tmp_path):
    out = tmp_path / "p.mobileconfig"
    out.write_bytes(build_profile("allowed_web_search_modes = [\"cached\"]\n", "model = \"m\"\n"))
    dest = tmp_path / "x"
    assert cli("mdm", "read", str(out), "--extract", str(dest)).returncode == 0
    (dest / "requirements.toml").write_text("mine\n")
    r = cli("mdm", "read", str(out), "--extract", str(dest))
    assert r.returncode == 2 and "refusing to overwrite" in r.stderr
    assert (dest / "requirements.toml").read_text() == "mine\n"
    assert cli("mdm", "read", str(out), "--extract", str(dest), "--force").returncode == 0
    assert (dest / "requirements.toml").read_text() == "allowed_web_search_modes = [\"cached\"]\n"


def test_effective_reads_mdm_profile(case_root):
    """`mdmtool effective --mdm-plist` uses the same reader: MDM requirements constrain."""
    home = os.path.join(case_root, "home")
    os.makedirs(home)
    with open(os.path.join(home, "config.toml"), "w") as fh:
        fh.write('approval_policy = "never"\nweb_search = "live"\n')
    system = os.path.join(case_root, "etc")
    os.makedirs(system)
    profile = os.path.join(case_root, "codex.mobileconfig")
    r = cli("mdm", "build", "--requirements", template_path("strict", "requirements.toml"), "-o", profile)
    assert r.returncode == 0, r.stderr
    r = cli("effective", "--format", "json", "--system-dir", system, "--codex-home", home,
            "--cwd", case_root, "--mdm-plist", profile)
    import json
    doc = json.loads(r.stdout)
    assert doc["approval_policy"] == "on-request" and doc["web_search"] == "cached"
    assert any(s["source"] == "mdm" for s in doc["requirement_sources"])


# ----------------------------------------------------------------------------- jamf

def test_jamf_ea_is_posix_sh_and_reports(tmp_path, case_root):
    r = cli("mdm", "jamf-ea")
    assert r.returncode == 0 and r.stdout.startswith("#!/bin/sh")
    script = tmp_path / "ea.sh"
    script.write_text(r.stdout)
    for shell in ("sh", "dash", "bash"):
        if shutil.which(shell):
            assert subprocess.run([shell, "-n", str(script)]).returncode == 0
    # run it for real: a launcher for this checkout, the strict templates in a system dir
    bindir = tmp_path / "bin"
    bindir.mkdir()
    launcher = bindir / "mdmtool"
    launcher.write_text(f'#!/bin/sh\nPYTHONPATH="{REPO}" exec "{sys.executable}" -m mdmtool "$@"\n')
    launcher.chmod(0o755)
    system = os.path.join(case_root, "etc")
    os.makedirs(system)
    for name in ("requirements.toml", "managed_config.toml"):
        shutil.copy(template_path("strict", name), system)
    home = os.path.join(case_root, "home")
    os.makedirs(os.path.join(home, ".codex"))
    keep = os.path.join(case_root, "collected", "host.json")
    env = dict(os.environ, HOME=home, MDMTOOL=str(launcher), MDMTOOL_OUT=keep,
               MDMTOOL_ARGS=f"--system-dir {system}")
    shell = shutil.which("dash") or "sh"
    r = subprocess.run([shell, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    line = r.stdout.strip()
    assert line.startswith("<result>posture=strict ok=yes") and line.endswith("</result>"), line
    assert "approval=on-request" in line and "sandbox=read-only" in line and "web_search=cached" in line
    import json
    assert json.load(open(keep))["ok"] is True
    env["MDMTOOL"] = str(tmp_path / "nowhere")
    r = subprocess.run([shell, str(script)], capture_output=True, text=True, env=env, timeout=60)
    assert r.stdout.strip() == "<result>mdmtool not installed</result>"
