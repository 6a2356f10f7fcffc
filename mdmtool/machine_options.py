"""The command-line options that describe a machine and how Codex is started on it.

One table for every command that resolves a policy (effective, explain, prove, crosscheck,
lint, diff): the Typer commands in :mod:`mdmtool.cli` and the argparse fast path of
:mod:`mdmtool.entry` are both built from it, so an option is spelled and documented once.
Plain tuples on purpose: this module is on the start-up path of ``mdmtool effective``.
"""

from __future__ import annotations

from typing import NamedTuple


class MachineOption(NamedTuple):
    dest: str  #: the ResolveInputs field it fills
    flags: tuple[str, ...]  #: spelled as Codex spells them where Codex has the flag
    help: str
    kind: str = "value"  #: "value" (one string), "list" (repeatable) or "flag" (bool)
    default: str | None = None

    @property
    def empty(self):
        """The value when the option is absent."""
        return False if self.kind == "flag" else self.default


MACHINE_OPTIONS: tuple[MachineOption, ...] = (
    MachineOption("system_dir", ("--system-dir",), "Codex system directory.", default="/etc/codex"),
    MachineOption("codex_home", ("--codex-home",), "CODEX_HOME (default: $CODEX_HOME, else ~/.codex)."),
    MachineOption("cwd", ("--cwd",), "Directory Codex starts in (default: .)."),
    MachineOption("profile", ("--profile", "-p"), "Profile NAME (NAME.config.toml)."),
    MachineOption("overrides", ("-c", "--config"),
                  "key=value override, parsed as TOML like Codex (repeatable).", "list"),
    MachineOption("sandbox", ("--sandbox", "-s"), "Codex's -s/--sandbox flag."),
    MachineOption("approval", ("--ask-for-approval", "-a"), "Codex's -a flag."),
    MachineOption("yolo", ("--dangerously-bypass-approvals-and-sandbox", "--yolo"),
                  "Codex's bypass flag.", "flag"),
    MachineOption("full_auto", ("--full-auto",), "Removed Codex flag (reported).", "flag"),
    MachineOption("add_dirs", ("--add-dir",), "Extra writable root (repeatable).", "list"),
    MachineOption("search", ("--search",), "Codex's --search flag (web_search = live).", "flag"),
    MachineOption("enable", ("--enable",), "Enable a feature (repeatable).", "list"),
    MachineOption("disable", ("--disable",), "Disable a feature (repeatable).", "list"),
    MachineOption("mdm_plist", ("--mdm-plist",),
                  "macOS com.openai.codex plist or .mobileconfig carrying base64 TOML."),
    MachineOption("cloud_requirements", ("--cloud-requirements",),
                  "Cloud-delivered requirements TOML exported by an admin."),
    MachineOption("exec_mode", ("--exec",), "Model `codex exec` (approval forced to never).", "flag"),
)

_BY_DEST = {o.dest: o for o in MACHINE_OPTIONS}

#: which options each kind of command takes
SESSION = tuple(o.dest for o in MACHINE_OPTIONS)  # effective, explain, prove
CODEX_FLAGS = SESSION[:13]  # crosscheck: what the real Codex can be started with
FILES_ONLY = SESSION[:4]  # lint: where the files are
FILES_AND_OVERRIDES = SESSION[:5] + ("exec_mode",)  # diff --effective


def options(dests: tuple[str, ...]) -> list[MachineOption]:
    return [_BY_DEST[d] for d in dests]


def inputs_from(values: dict):
    """A ResolveInputs from parsed option values (absent options take the table's empty value)."""
    from mdmtool.model import ResolveInputs
    kwargs = {}
    for o in MACHINE_OPTIONS:
        value = values.get(o.dest)
        if value is None:
            value = o.empty
        kwargs[o.dest] = list(value or []) if o.kind == "list" else value
    return ResolveInputs(**kwargs)
