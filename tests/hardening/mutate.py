"""Hostile inputs, shared by the property tests (driven by Hypothesis) and the long fuzz
run (``benchmarks/fuzz.py``, driven by ``random``): byte-level mutations of real Codex
files, random Codex-shaped TOML documents, plists and base64 payloads.

Every generator is a pure function of its arguments, so a failing input is reproduced
from the seed (fuzz script) or the Hypothesis example.
"""

from __future__ import annotations

import base64
import plistlib
import random
from typing import Any

#: fragments that break or stress TOML readers (and Codex's limits)
SNIPPETS: list[bytes] = [s.encode() if isinstance(s, str) else s for s in [
    "[", "]", "{", "}", "=", '"', "'", '"""', "'''", "\\", "\n", "\r\n", "\r", "\t", ",", ".",
    "#", "[[", "]]", " = ", "x = 1\n", "[t]\n", "[[t]]\n", "a.b.c = 1\n", 'k = "v"\n', "true",
    "false", "1e999", "nan", "-inf", "+0x1f", "0o777", "1979-05-27T07:32:00Z", "07:32:00",
    "1979-05-27", "é", "\u2028", "\U0001f600", "\ufeff", "\x00", "\x7f", "\\u0000", '\\"',
    "[" * 90, "]" * 90, "{a = " * 85, "a = [" + "[" * 85, ".".join(["k"] * 90) + " = 1\n",
    "[" + ".".join(["t"] * 85) + "]\n", "k" * 5000, '"' + "v" * 5000 + '"',
    'approval_policy = "never"\n', 'sandbox_mode = "danger-full-access"\n',
    'allowed_sandbox_modes = []\n', 'allowed_approval_policies = ["never", 7]\n',
    '[mcp_servers.x]\ncommand = "c"\nenv = { TOKEN = "s" }\n', '[projects."/"]\ntrust_level = "trusted"\n',
    'default_permissions = "p"\n[permissions.p.filesystem]\n":root" = "write"\n',
    '[[rules.prefix_rules]]\npattern = [{ token = "rm" }]\ndecision = "allow"\n',
    'profile = "x"\n[profiles.x]\napproval_policy = "never"\n', 'model_instructions_file = "/dev/null"\n',
    'project_root_markers = [".git", ""]\n', b"\xff", b"\xfe\xff", b"\xc3", b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
]]
OPS = ("insert", "delete", "replace", "dup_line", "swap_lines", "truncate", "byte")


def apply_ops(data: bytes, ops: list[tuple[str, float, int, int]]) -> bytes:
    """Apply mutations: (op, position in [0, 1), snippet index / byte, length)."""
    for op, where, k, n in ops:
        pos = int(where * (len(data) + 1)) if data else 0
        pos = min(pos, len(data))
        if op == "insert":
            data = data[:pos] + SNIPPETS[k % len(SNIPPETS)] * (1 + n % 3) + data[pos:]
        elif op == "delete":
            data = data[:pos] + data[pos + 1 + n % 40:]
        elif op == "replace":
            data = data[:pos] + SNIPPETS[k % len(SNIPPETS)] + data[pos + 1 + n % 10:]
        elif op in ("dup_line", "swap_lines"):
            lines = data.split(b"\n")
            i = min(int(where * len(lines)), len(lines) - 1)
            j = (i + 1 + n) % len(lines)
            if op == "dup_line":
                lines.insert(j, lines[i])
            else:
                lines[i], lines[j] = lines[j], lines[i]
            data = b"\n".join(lines)
        elif op == "truncate":
            data = data[:pos]
        elif op == "byte":
            data = data[:pos] + bytes([k % 256]) + data[pos + 1:]
    return data


def random_ops(rng: random.Random, max_ops: int = 4) -> list[tuple[str, float, int, int]]:
    return [(rng.choice(OPS), rng.random(), rng.randrange(1 << 16), rng.randrange(64))
            for _ in range(rng.randint(1, max_ops))]


# ----------------------------------------------------------------------------- Codex-shaped TOML

ENUMS = {
    "approval_policy": ["untrusted", "on-failure", "on-request", "never", "granular", "bogus"],
    "sandbox_mode": ["read-only", "workspace-write", "danger-full-access", "external", ""],
    "web_search": ["disabled", "cached", "indexed", "live", "on"],
    "approvals_reviewer": ["user", "auto_review", "guardian_subagent", "x"],
}
REQ_LISTS = {
    "allowed_approval_policies": ENUMS["approval_policy"],
    "allowed_sandbox_modes": ENUMS["sandbox_mode"],
    "allowed_web_search_modes": ENUMS["web_search"],
    "allowed_approvals_reviewers": ENUMS["approvals_reviewer"],
    "allowed_permission_profiles": [":read-only", ":workspace", ":danger-no-sandbox", "p", "q"],
}
WEIRD = ["", " ", "\t", "é", "\u2028", "a" * 300, "../..", "/", "~", "$HOME", "-", "C:\\x",
         "s3cr3t-FUZZ", "Bearer tok3n-FUZZ"]


def _scalar(rng: random.Random) -> Any:
    return rng.choice([rng.randint(-3, 10**12), rng.random(), rng.choice([True, False]),
                       rng.choice(WEIRD), rng.choice(sum(ENUMS.values(), []))])


def _value(rng: random.Random, depth: int = 0) -> Any:
    r = rng.random()
    if r < 0.6 or depth > 3:
        return _scalar(rng)
    if r < 0.8:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(["a", "enabled", "command", "env", "TOKEN", "trust_level", "x y"]):
            _value(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def random_doc(rng: random.Random, kind: str = "config") -> dict:
    """A TOML-serialisable document with Codex's keys and sometimes hostile values."""
    doc: dict[str, Any] = {}
    keys = list(ENUMS) + ["model", "profile", "default_permissions", "features", "projects",
                          "mcp_servers", "sandbox_workspace_write", "permissions", "profiles",
                          "project_root_markers", "shell_environment_policy", "unknown_key"]
    if kind == "requirements":
        keys = list(REQ_LISTS) + ["features", "mcp_servers", "rules", "permissions",
                                  "experimental_network", "remote_sandbox_config",
                                  "enforce_residency", "default_permissions", "unknown_key"]
    for key in rng.sample(keys, rng.randint(0, min(6, len(keys)))):
        if key in ENUMS:
            doc[key] = rng.choice(ENUMS[key]) if rng.random() < 0.85 else _value(rng)
        elif key in REQ_LISTS:
            doc[key] = rng.sample(REQ_LISTS[key], rng.randint(0, 3)) if rng.random() < 0.85 else _value(rng)
        elif key == "mcp_servers":
            doc[key] = {rng.choice(["docs", "x", "é"]): {
                "command": rng.choice(["npx", "", 7]), "args": ["--token", "s3cr3t-FUZZ"],
                "env": {"API_KEY": rng.choice(["s3cr3t-FUZZ", 5, True])},
                **({"url": "https://u:s3cr3t-FUZZ@h/x"} if rng.random() < 0.3 else {})}}
        elif key == "projects":
            doc[key] = {rng.choice(["/", "/var/tmp", "relative", ""]): {
                "trust_level": rng.choice(["trusted", "untrusted", "maybe"])}}
        elif key == "features":
            doc[key] = {rng.choice(["web_search_request", "network_proxy", "unknown", "apps"]):
                        rng.choice([True, False, "yes", {"enabled": True}])}
        elif key == "sandbox_workspace_write":
            doc[key] = {"network_access": rng.choice([True, False, "x"]),
                        "writable_roots": rng.sample(["/a", "rel", "", "~/x", 3], rng.randint(0, 3))}
        elif key == "permissions":
            doc[key] = {rng.choice(["p", "q", ":read-only"]): {"filesystem": {
                rng.choice([":root", ":workspace_roots", "/etc", "**/*.env"]):
                rng.choice(["read", "write", "deny", "none", 1])}}}
        elif key == "rules":
            doc[key] = {"prefix_rules": [{"pattern": [{"token": rng.choice(["rm", ""])}],
                                          "decision": rng.choice(["prompt", "forbidden", "allow"])}]}
        else:
            doc[key] = _value(rng)
    return doc


def dump_toml(doc: dict) -> str:
    import tomlkit
    try:
        return tomlkit.dumps(doc)
    except Exception:  # noqa: BLE001 - tomlkit cannot write every value; fall back to nothing
        return ""


# ----------------------------------------------------------------------------- plists, base64

def random_payload_value(rng: random.Random, toml_text: str) -> Any:
    """A value for a ``*_toml_base64`` key: good base64, broken base64, wrong types."""
    raw = toml_text.encode("utf-8", "surrogatepass")
    good = base64.b64encode(raw).decode()
    return rng.choice([
        good, " " + good + "\n", good[:-1], good.replace("A", "*", 1), good[:4] + "\n" + good[4:],
        base64.urlsafe_b64encode(raw).decode(), base64.b64encode(rng.randbytes(rng.randint(0, 64))).decode(),
        "", "   ", 7, True, raw, [good], {"k": good}, None,
    ])


def random_plist(rng: random.Random, toml_texts: list[str]) -> bytes:
    """A preference plist, a configuration profile or an MCX profile, XML or binary."""
    values = {k: random_payload_value(rng, rng.choice(toml_texts))
              for k in ("requirements_toml_base64", "config_toml_base64") if rng.random() < 0.8}
    values = {k: v for k, v in values.items() if v is not None}
    shape = rng.random()
    if shape < 0.4:
        root: Any = values
    elif shape < 0.8:
        payload = {"PayloadType": "com.openai.codex", "PayloadUUID": "X", **values}
        root = {"PayloadType": "Configuration", "PayloadContent": [payload] * rng.randint(0, 2),
                "PayloadIdentifier": rng.choice(["com.x", "", 5])}
    elif shape < 0.9:
        root = {"PayloadContent": [{"PayloadType": "com.apple.ManagedClient.preferences",
                                    "PayloadContent": {"com.openai.codex": {
                                        "Forced": [{"mcx_preference_settings": values}]}}}]}
    else:
        root = rng.choice([[values], "string", 5, {"PayloadContent": "nope"}])
    fmt = rng.choice([plistlib.FMT_XML, plistlib.FMT_BINARY])
    try:
        return plistlib.dumps(root, fmt=fmt)
    except (TypeError, ValueError, OverflowError):
        return plistlib.dumps({}, fmt=fmt)
