"""doctor: the checks on given values (every failure carries the spec's remediation) and
on this host's real /proc/sys values."""

from __future__ import annotations

import os
import stat
import sys

import pytest

from mdmtool.prove import doctor as d


def test_real_proc_sys_values_parse():
    facts = d.gather(run_smoke=False)
    if not sys.platform.startswith("linux"):
        pytest.skip("Linux /proc/sys")
    raw = d.read_sysctl("/proc/sys/user/max_user_namespaces")
    assert raw is not None and raw.isdigit() and facts.max_user_namespaces == raw
    assert facts.seccomp_field in ("0", "1", "2")
    assert facts.kernel_release and d.parse_version(facts.kernel_release)
    assert d.read_sysctl("/proc/sys/kernel/does-not-exist") is None
    for c in d.evaluate(facts):
        assert c.status in (d.OK, d.WARN, d.FAIL, d.INFO, d.SKIP) and c.detail


def test_host_smoke_runs(bwrap_ok):
    checks = {c.name: c for c in d.evaluate(d.gather(run_smoke=True))}
    assert checks["bwrap --unshare-net smoke run"].status == d.OK
    assert checks["seccomp network filter"].status == d.OK


def test_bwrap_missing_and_old():
    c = d.check_bwrap(None, None)
    assert c.status == d.FAIL and "bubblewrap package" in c.remediation
    assert d.check_bwrap("/usr/bin/bwrap", "bubblewrap 0.8.0").status == d.OK
    assert "compatibility" in d.check_bwrap("/usr/bin/bwrap", "0.8.0").detail
    assert "compatibility" not in d.check_bwrap("/usr/bin/bwrap", "0.11.0").detail


def test_userns_logic():
    assert d.check_userns("0", None, is_root=False).status == d.FAIL
    assert "max_user_namespaces" in d.check_userns("0", None, False).remediation
    assert d.check_userns("15000", "0", is_root=False).status == d.FAIL
    assert d.check_userns("15000", "1", is_root=False).status == d.OK
    assert d.check_userns("0", None, is_root=True).status == d.OK
    assert d.check_userns("0", None, is_root=False, setuid=True).status == d.OK


def test_apparmor_restriction_logic(tmp_path):
    bw = "/usr/bin/bwrap"
    assert d.check_apparmor(None, bw, [], False).status == d.OK
    assert d.check_apparmor("0", bw, [], False).status == d.OK
    fail = d.check_apparmor("1", bw, [], False)
    assert fail.status == d.FAIL and "bwrap-userns-restrict" in fail.remediation
    assert "apparmor_parser -r" in fail.remediation and "RTM_NEWADDR" in fail.detail
    assert d.check_apparmor("1", bw, ["/etc/apparmor.d/bwrap"], False).status == d.OK
    assert d.check_apparmor("1", bw, [], True).status == d.OK
    # profile discovery on a real directory of profile files
    (tmp_path / "bwrap-userns-restrict").write_text(
        "abi <abi/4.0>,\nprofile bwrap /usr/bin/bwrap flags=(unconfined) {\n  userns,\n}\n")
    (tmp_path / "other").write_text("profile x /usr/bin/x {\n  userns,\n}\n")
    assert d.apparmor_profiles_for(bw, str(tmp_path)) == [str(tmp_path / "bwrap-userns-restrict")]


def test_setuid_and_seccomp_logic():
    assert d.check_setuid("/usr/bin/bwrap", stat.S_IFREG | stat.S_ISUID | 0o755).status == d.INFO
    assert d.check_setuid("/usr/bin/bwrap", stat.S_IFREG | 0o755).status == d.OK
    assert d.check_seccomp(None, None, "x86_64").status == d.FAIL
    assert d.check_seccomp("0", "kill_process errno allow", "x86_64").status == d.OK
    assert d.check_seccomp("0", "kill_process allow", "x86_64").status == d.FAIL
    assert d.check_seccomp("0", None, None).status == d.FAIL


@pytest.mark.parametrize("err,needle", [
    ("bwrap: loopback: Failed RTM_NEWADDR: Operation not permitted", "bwrap-userns-restrict"),
    ("bwrap: setting up uid map: Permission denied", "bwrap-userns-restrict"),
    ("bwrap: No permissions to create new namespace, likely because the kernel does not allow "
     "non-privileged user namespaces", "max_user_namespaces"),
    ("bwrap: Failed to make / slave: Permission denied", "use_legacy_landlock"),
    ("bwrap: pivot_root: Invalid argument", "rootfs"),
])
def test_smoke_failures_map_to_remediation(err, needle):
    c = d.check_smoke((1, err))
    assert c.status == d.FAIL and needle in c.remediation


def test_wsl_landlock_codex_home():
    assert d.check_wsl("Linux version 4.4.0-19041-Microsoft").status == d.FAIL
    assert d.check_wsl("Linux version 5.15.90.1-microsoft-standard-WSL2").status == d.OK
    assert d.check_wsl("Linux version 6.8.0-45-generic").status == d.OK
    assert "no Landlock" in d.check_landlock("4.18.0-553.el8").detail
    assert "available" in d.check_landlock("6.8.0").detail
    c = d.check_codex_home("/tmp/x/.codex", ["/tmp"])
    assert c.status == d.FAIL and "CODEX_HOME" in c.remediation
    assert d.check_codex_home(os.path.expanduser("~/.codex"), ["/tmp"]).status == d.OK


def test_other_platforms_and_render():
    assert d.evaluate(d.Facts(platform="win32"))[0].status == d.INFO
    mac = d.evaluate(d.Facts(platform="darwin", sandbox_exec=False, codex_home="/Users/a/.codex"))
    assert mac[0].status == d.FAIL
    checks = [d.check_bwrap(None, None), d.check_wsl("")]
    text = d.render(checks, "text")
    assert "FAIL" in text and "fix: install the distro bubblewrap" in text and "1 problem" in text
    import json
    assert json.loads(d.render(checks, "json"))["ok"] is False


def test_doctor_command_exit_code(bwrap_ok, capsys):
    from mdmtool.commands.doctor import run_doctor
    rc = run_doctor(fmt="json")
    import json
    doc = json.loads(capsys.readouterr().out)
    assert rc == (0 if doc["ok"] else 1)
