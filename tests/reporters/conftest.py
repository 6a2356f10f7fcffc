"""The same findings feed every reporter test."""

from __future__ import annotations

import pytest

from mdmtool.model import Finding, Source


@pytest.fixture
def findings() -> list[Finding]:
    return [
        Finding("MDM201", "error", "sandbox_mode = \"danger-full-access\" disables the sandbox",
                Source("hosts/a/config.toml", 3, 1), remediation="use workspace-write",
                key="sandbox_mode", fix={"op": "set", "path": ["sandbox_mode"], "value": "workspace-write"}),
        Finding("MDM301", "warning", "unknown key `sandbox_mod`, did you mean `sandbox_mode`?",
                Source("hosts/a/config.toml", 1, 1), key="sandbox_mod"),
        Finding("MDM501", "info", "message with special chars: 100% , : \n second line <&>\"'",
                Source("dir with space/requirements.toml", 7, 5)),
        Finding("MDM900", "warning", "no position", Source("hosts/b/config.toml")),
    ]


@pytest.fixture
def files() -> list[str]:
    return ["hosts/a/config.toml", "hosts/b/config.toml", "dir with space/requirements.toml",
            "clean/config.toml"]
