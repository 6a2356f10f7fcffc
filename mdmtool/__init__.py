"""mdmtool: see, check and prove the effective OpenAI Codex CLI policy."""

__version__ = "0.1.0"
#: The Codex CLI release whose behaviour mdmtool models.
CODEX_VERSION = "0.169.0"


def version_text() -> str:
    """What ``mdmtool --version`` prints."""
    return f"mdmtool {__version__} (models Codex CLI {CODEX_VERSION})"
