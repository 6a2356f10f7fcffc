"""Every lint rule: stable ID, severity, title, remediation and docs anchor.

The rule *logic* lives in :mod:`mdmtool.lint.rules`; this table is the single source
for docs/rules.md (``python -m mdmtool.lint.catalog`` prints it), SARIF rule metadata
and the fleet summary (``fatal`` rules mean "Codex refuses to start", ``fallback``
rules mean "the host runs on a requirements fallback").
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

DOCS_URL = "https://github.com/mdmtool/mdmtool/blob/main/docs/rules.md"


@dataclass(frozen=True)
class RuleMeta:
    id: str
    name: str
    severity: str
    title: str
    remediation: str
    family: str
    fatal: bool = False      # Codex refuses to start (fail closed)
    fallback: bool = False   # Codex runs, but on a requirements fallback value
    autofix: bool = False    # findings carry Finding.fix for `mdmtool fix`

    @property
    def help_uri(self) -> str:
        return f"{DOCS_URL}#{self.id.lower()}"


E, W, I = "error", "warning", "info"

_RULES = [
    # ---- input
    RuleMeta("MDM100", "unreadable-file", E, "File cannot be read or is not valid TOML",
             "Fix the syntax at the reported position; Codex refuses to start on a broken "
             "system, user, trusted-project or requirements file.", "input", fatal=True),
    # ---- requirements versus configuration (resolver)
    RuleMeta("MDM101", "approval-policy-fallback", W,
             "Configured approval_policy is disallowed by requirements",
             "Set approval_policy to a value in allowed_approval_policies; Codex falls back to "
             "the first allowed value.", "requirements-vs-config", fallback=True),
    RuleMeta("MDM102", "approvals-reviewer-fallback", W,
             "Configured approvals_reviewer is disallowed by requirements",
             "Set approvals_reviewer to a value in allowed_approvals_reviewers; Codex falls back "
             "to the first allowed value.", "requirements-vs-config", fallback=True),
    RuleMeta("MDM103", "sandbox-mode-fallback", W,
             "Configured sandbox mode is disallowed by requirements",
             "Pick a sandbox_mode in allowed_sandbox_modes; Codex falls back to read-only.",
             "requirements-vs-config", fallback=True),
    RuleMeta("MDM104", "permission-profile-fallback", W,
             "Configured permission profile is disallowed by requirements",
             "Set default_permissions to a profile that allowed_permission_profiles allows; "
             "Codex falls back to the managed default_permissions.",
             "requirements-vs-config", fallback=True),
    RuleMeta("MDM105", "web-search-fallback", W,
             "Configured web_search mode is disallowed by requirements",
             "Set web_search to a mode in allowed_web_search_modes.",
             "requirements-vs-config", fallback=True),
    RuleMeta("MDM106", "feature-pinned", I,
             "Configured feature value is overridden by a requirements pin",
             "Remove the feature setting (the requirements pin always wins).",
             "requirements-vs-config", autofix=True),
    RuleMeta("MDM107", "mcp-server-not-allowed", W,
             "MCP server is not in the requirements' MCP allowlist: Codex disables it",
             "Add [mcp_servers.<id>] identity = { command = \"...\" } (or url) to the requirements, or "
             "remove the server from the config.", "requirements-vs-config"),
    RuleMeta("MDM110", "refuses-to-start", E,
             "Codex would refuse to start with these files",
             "Fix the reported problem; Codex fails closed instead of running with defaults.",
             "requirements-vs-config", fatal=True),
    # ---- session start (what schema checks cannot see)
    RuleMeta("MDM111", "session-start-failure", E,
             "Codex loads the files but will not run: a session cannot start",
             "Fix the reported cause: a deny-read glob needs a directory prefix (/home/**/*.key, "
             "~/**/*.key); a referenced file must exist (relative paths are read from the file's "
             "folder); a required MCP server's command must be installed (or set required = false).",
             "session", fatal=True),
    RuleMeta("MDM112", "agent-role-ignored", W,
             "Agent role is dropped: its config_file is missing, not a file, or not TOML",
             "Point config_file at an existing TOML file (relative paths are read from the folder of "
             "the file that sets it).", "session"),
    # ---- version drift
    RuleMeta("MDM201", "approval-untrusted-removed", E,
             'approval_policy = "untrusted" is no longer supported',
             'Remove approval_policy and mark the project untrusted instead '
             '([projects."<path>"] trust_level = "untrusted").', "drift", fatal=True, autofix=True),
    RuleMeta("MDM202", "approval-on-failure-deprecated", W,
             'approval_policy = "on-failure" is deprecated (read as "on-request")',
             'Write approval_policy = "on-request".', "drift", autofix=True),
    RuleMeta("MDM203", "legacy-profile-selector", E,
             'Top-level profile = "<name>" makes Codex refuse to start',
             "Delete it; move the profile's settings to $CODEX_HOME/<name>.config.toml and start "
             "Codex with -p <name>.", "drift", fatal=True, autofix=True),
    RuleMeta("MDM204", "legacy-profiles-table", W,
             "[profiles.<name>] tables are ignored (and fatal together with -p <name>)",
             "Move the table's settings to $CODEX_HOME/<name>.config.toml and delete the table.",
             "drift", autofix=True),
    RuleMeta("MDM205", "full-auto-removed", E, "--full-auto was removed from Codex",
             "Use --sandbox workspace-write (or --approve-for-me).", "drift", autofix=True),
    RuleMeta("MDM206", "renamed-key", W, "Setting was renamed; the old name is ignored or deprecated",
             "Move the value to the new key.", "drift", autofix=True),
    RuleMeta("MDM207", "removed-key", W, "Setting is ignored by Codex 0.169",
             "Delete it (it has no effect).", "drift", autofix=True),
    RuleMeta("MDM208", "deprecated-value", W, "Value is a deprecated alias or no longer accepted",
             "Write the canonical value.", "drift", autofix=True),
    # ---- dangerous settings
    RuleMeta("MDM301", "danger-full-access", E, "Sandbox disabled (danger-full-access)",
             'Use sandbox_mode = "workspace-write" (or a permission profile) and grant only '
             "what is needed.", "danger", autofix=True),
    RuleMeta("MDM302", "yolo-flag", E,
             "--yolo / --dangerously-bypass-approvals-and-sandbox disables sandbox and approvals",
             "Drop the flag; use --sandbox workspace-write with approvals.", "danger", autofix=True),
    RuleMeta("MDM303", "non-loopback-proxy", E,
             "dangerously_allow_non_loopback_proxy exposes the network proxy to other hosts",
             "Delete it (keep the proxy on loopback).", "danger", autofix=True),
    RuleMeta("MDM304", "all-unix-sockets", E,
             "dangerously_allow_all_unix_sockets lets commands reach every local service",
             "Delete it and allow the needed sockets under unix_sockets.", "danger", autofix=True),
    RuleMeta("MDM305", "global-domain-allow", E, 'A "*" allow rule lets commands reach any host',
             "Replace it with the domains that are needed.", "danger", autofix=True),
    RuleMeta("MDM306", "allow-local-binding", W,
             "allow_local_binding = true opens loopback, LAN and metadata addresses",
             "Delete it; allow the exact local hosts you need (exact IP or localhost rules).",
             "danger", autofix=True),
    RuleMeta("MDM307", "writable-root-too-broad", E,
             "A writable root covers / or the home directory",
             "Grant write access to the project directories that need it only.", "danger"),
    RuleMeta("MDM308", "network-without-domain-policy", W,
             "Command network is on but no proxy enforces a domain policy",
             "Enable the network proxy ([features] network_proxy = true) with domain rules, or "
             "turn network access off.", "danger"),
    RuleMeta("MDM309", "never-with-network-writes", W,
             'approval_policy = "never" with workspace-write and network on',
             "Keep approvals (on-request) or turn network off; unattended writes plus network is "
             "an exfiltration path.", "danger"),
    RuleMeta("MDM310", "broad-trusted-project", E,
             "/, the home directory or a system folder is a trusted project",
             "Trust individual repositories instead.", "danger", autofix=True),
    # ---- network policy semantics
    RuleMeta("MDM401", "deny-star", E, 'A "*" deny rule is invalid',
             "Delete it; an empty allow-list already blocks everything.", "network", fatal=True,
             autofix=True),
    RuleMeta("MDM402", "allow-shadowed-by-deny", W, "Allow rule can never match: a deny rule covers it",
             "Delete the allow rule or narrow the deny rule (deny always wins).", "network"),
    RuleMeta("MDM403", "local-wildcard-allow", W,
             "Wildcard allow for local/private addresses has no effect without allow_local_binding",
             "Allow the exact IP or localhost, or (deliberately) set allow_local_binding = true.",
             "network"),
    RuleMeta("MDM404", "wildcard-misses-apex", I, '"*.example.com" does not match example.com itself',
             'Write "**.example.com" to match the apex and every subdomain.', "network", autofix=True),
    RuleMeta("MDM405", "managed-network-no-effect", W,
             "Network policy has no effect because the sandbox keeps network off (or on without it)",
             "Align [experimental_network] with the sandbox: the proxy only filters commands "
             "that have network access.", "network"),
    RuleMeta("MDM406", "domains-not-enforced", W,
             "Domain rules are not enforced: network is on but the proxy is not started",
             "Start the proxy with [features] network_proxy = true (or a managed "
             "[experimental_network] enabled = true).", "network"),
    # ---- project layers
    RuleMeta("MDM501", "project-denylisted-key", W, "A project config cannot set this key",
             "Move it to the user's config.toml; Codex strips it from project files.",
             "projects", autofix=True),
    RuleMeta("MDM502", "project-config-ignored", I,
             "Project config is ignored because the project is not trusted",
             'Trust the project ([projects."<path>"] trust_level = "trusted") or delete the file.',
             "projects"),
    RuleMeta("MDM503", "project-loosens-user", W,
             "Trusted project loosens the user's approval, sandbox or network settings",
             "Remove the setting from the project file or make the change in the user config "
             "deliberately.", "projects", autofix=True),
    # ---- permission profiles
    RuleMeta("MDM601", "missing-default-profile", E,
             "default_permissions names a profile that is not defined",
             "Define [permissions.<name>] or use :read-only / :workspace.", "permissions", fatal=True),
    RuleMeta("MDM602", "profile-not-allowed", W,
             "Permission profile is outside allowed_permission_profiles",
             "Add it to [allowed_permission_profiles] or stop using it.", "permissions"),
    RuleMeta("MDM603", "deny-read-implausible", W, "deny-read entry matches nothing plausible",
             "Use an absolute path, ~/path or a glob that can be expanded safely.", "permissions"),
    RuleMeta("MDM604", "invalid-profile-definition", E,
             "Permission profile definition makes Codex refuse to start",
             "Set default_permissions; extend only :read-only, :workspace or a defined custom "
             "profile, without cycles.", "permissions", fatal=True),
    # ---- requirements.toml itself
    RuleMeta("MDM701", "empty-allow-list", E, "Empty allow-list",
             "List at least one value (an empty list makes Codex refuse to start).",
             "requirements", fatal=True),
    RuleMeta("MDM702", "sandbox-modes-without-read-only", E,
             "allowed_sandbox_modes must include read-only",
             'Add "read-only" (Codex refuses to start without it).', "requirements", fatal=True,
             autofix=True),
    RuleMeta("MDM703", "allow-list-omits-default", W,
             "Allow-list leaves out the configured default",
             "Add the default to the list, or set a default that is allowed.", "requirements"),
    RuleMeta("MDM704", "managed-config-contradiction", W,
             "managed_config.toml contradicts requirements.toml",
             "managed_config.toml's approval_policy / approvals_reviewer / sandbox_mode replace "
             "the matching allow-list; make the two files agree.", "requirements"),
    RuleMeta("MDM705", "requirements-enforce-nothing", E,
             "requirements file enforces nothing (no key Codex recognises)",
             "Use Codex's requirement keys (allowed_approval_policies, allowed_sandbox_modes, ...).",
             "requirements"),
    RuleMeta("MDM706", "requirements-fatal", E, "requirements.toml makes Codex refuse to start",
             "Fix the reported value; Codex fails closed on invalid requirements.", "requirements",
             fatal=True),
    # ---- keys
    RuleMeta("MDM801", "unknown-key", W, "Unknown key (Codex ignores it)",
             "Fix the spelling (see the suggestion) or delete the key.", "keys", autofix=True),
    RuleMeta("MDM802", "key-in-wrong-table", W, "Key is in the wrong table (TOML tables run until the next header)",
             "Move the key into the suggested table.", "keys", autofix=True),
    # ---- waivers
    RuleMeta("MDM901", "waiver-expired", W, "Waiver has expired",
             "Fix the waived finding or renew the waiver with a new date.", "waivers"),
    RuleMeta("MDM902", "waiver-without-reason", W, "Waiver gives no reason (it is not applied)",
             "Write: # mdmtool: ignore[MDMnnn] <reason>[, until YYYY-MM-DD]", "waivers"),
    RuleMeta("MDM903", "waiver-unused", I, "Waiver matches no finding",
             "Delete the stale waiver.", "waivers"),
    RuleMeta("MDM904", "waiver-malformed", W, "Waiver comment cannot be parsed",
             "Write: # mdmtool: ignore[MDMnnn] <reason>[, until YYYY-MM-DD]", "waivers"),
]

RULES: dict[str, RuleMeta] = {r.id: r for r in _RULES}
FAMILIES = {
    "input": "Input", "requirements-vs-config": "Requirements versus configuration",
    "session": "Session start: files, globs and MCP servers Codex only checks when a session starts",
    "drift": "Deprecated and removed settings (Codex 0.169 version drift)",
    "danger": "Dangerous settings", "network": "Network policy semantics",
    "projects": "Project layers", "permissions": "Permission profiles",
    "requirements": "requirements.toml self-checks", "keys": "Unknown and misplaced keys",
    "waivers": "Waivers",
}


def describe(rule_id: str) -> dict | None:
    """Metadata for reporters (SARIF rules), or ``None`` for rules that are not lint's."""
    r = RULES.get(rule_id)
    if r is None:
        return None
    return {"name": r.name, "severity": r.severity, "title": r.title,
            "remediation": r.remediation, "help_uri": r.help_uri}


def markdown() -> str:
    """docs/rules.md, generated from this table (kept in sync by a test)."""
    out = ["# mdmtool lint rules", "",
           "Generated by `python -m mdmtool.lint.catalog`; do not edit by hand. Every rule has "
           "positive and negative fixtures under `fixtures/lint/<RULE>/`.", "",
           "Waive a finding with a comment on the same line or the line above: "
           "`# mdmtool: ignore[MDM301] reason, until 2027-01-31` (reason required, expiry "
           "optional).", "",
           "Flags: **fatal** = Codex refuses to start; **fallback** = Codex runs on a "
           "requirements fallback value; **autofix** = `mdmtool fix` can apply `Finding.fix`.", ""]
    for fam, title in FAMILIES.items():
        out += [f"## {title}", ""]
        for r in _RULES:
            if r.family != fam:
                continue
            flags = [f for f, on in (("fatal", r.fatal), ("fallback", r.fallback),
                                     ("autofix", r.autofix)) if on]
            out += [f"### {r.id}", "",
                    f"**{r.name}** · {r.severity}" + (f" · {', '.join(flags)}" if flags else ""), "",
                    r.title + ".", "", f"Remediation: {r.remediation}", ""]
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(markdown())
