"""Scenarios the posture templates are documented and tested with.

Each scenario is one way a user meets a deployed posture. The posture READMEs have a
"How it resolves" table with one row per scenario; fixtures/template_cases/ holds what
the real Codex 0.169.0 answered (recorded by fixtures/template_cases/record.py).
"""

POSTURES = ("strict", "balanced", "open")

#: user config that asks for everything
WIDE_USER = """approval_policy = "never"
approvals_reviewer = "auto_review"
sandbox_mode = "danger-full-access"
web_search = "live"

[sandbox_workspace_write]
network_access = true
"""

SCENARIOS = {
    # the templates as deployed, no user config, the template project config, trusted
    "deployed": {"project_config": True},
    # a user config asking for the widest settings
    "user-widens": {"user_config": WIDE_USER},
    # command-line flags asking for no sandbox and live search
    "flags-widen": {"flags": ["--sandbox", "danger-full-access", "--search"]},
    # --dangerously-bypass-approvals-and-sandbox (--yolo)
    "yolo": {"flags": ["--dangerously-bypass-approvals-and-sandbox"]},
    # project not in the user's trust list: its .codex/config.toml is ignored
    "untrusted-project": {"project_config": True, "trust": None},
}
