"""The thin Typer app: options -> a command function -> exit code.

Nothing here decides anything; every command lives in :mod:`mdmtool.commands` and is
imported only when it runs, so ``mdmtool --version`` stays fast.
"""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from mdmtool import CODEX_VERSION, version_text
from mdmtool.errors import EXIT_CODES_HELP, run_guarded
from mdmtool.machine_options import (CODEX_FLAGS, FILES_AND_OVERRIDES, FILES_ONLY, SESSION,
                                     MachineOption, inputs_from, options)

app = typer.Typer(
    name="mdmtool",
    help="See, check and prove the effective OpenAI Codex CLI policy "
    f"(models Codex {CODEX_VERSION}).\n\n{EXIT_CODES_HELP}",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

_state = {"debug": False}


def _finish(body) -> None:
    """Run a command body under the single error boundary and exit with its code."""
    raise typer.Exit(run_guarded(body, debug=_state["debug"]))


def _version(value: bool) -> None:
    if value:
        print(version_text())
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print mdmtool's version and the Codex version it models.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show a traceback for internal errors.")] = False,
) -> None:
    _state["debug"] = debug


# ----------------------------------------------------------------------------- validate

@app.command(help="Check config / requirements / managed_config TOML files against the schemas. "
             + EXIT_CODES_HELP)
def validate(
    files: Annotated[list[str], typer.Argument(help="TOML files to check.")],
    kind: Annotated[Optional[str], typer.Option(
        "--kind", help="Force the file kind: config, requirements or managed-config "
        "(default: detected from the file name).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="Output format: text or json.")] = "text",
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings (unknown keys) as errors.")] = False,
) -> None:
    def body() -> int:
        from mdmtool.commands.validate import run_validate
        return run_validate(files, kind=kind, fmt=fmt, strict=strict)
    _finish(body)


# ----------------------------------------------------------------------------- effective

def machine_options(dests: tuple[str, ...]):
    """Give a command the machine options named in ``dests`` (:mod:`mdmtool.machine_options`);
    the command receives them together as ``inputs``, a ResolveInputs."""
    import inspect

    def parameter(o: MachineOption) -> inspect.Parameter:
        hint = {"value": Optional[str], "list": Optional[list[str]], "flag": bool}[o.kind]
        annotation = Annotated[str if o.default else hint, typer.Option(*o.flags, help=o.help)]
        return inspect.Parameter(o.dest, inspect.Parameter.KEYWORD_ONLY, annotation=annotation,
                                 default=o.empty)

    def decorate(fn):
        params = []
        for p in inspect.signature(fn, eval_str=True).parameters.values():
            if p.name == "inputs":
                params += [parameter(o) for o in options(dests)]
            else:
                params.append(p.replace(kind=inspect.Parameter.KEYWORD_ONLY))

        def command(**kwargs):
            machine = {d: kwargs.pop(d) for d in dests}
            return fn(inputs=inputs_from(machine), **kwargs)

        command.__name__ = command.__qualname__ = fn.__name__
        command.__doc__, command.__module__ = fn.__doc__, fn.__module__
        command.__signature__ = inspect.Signature(params, return_annotation=None)
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command
    return decorate


@app.command(help="Show the effective Codex policy on this machine, every value with its origin. "
             "Exit 1 when Codex would refuse to start.")
@machine_options(SESSION)
def effective(
    inputs: object = None,
    fmt: Annotated[str, typer.Option("--format", help="text, json or jsonl.")] = "text",
) -> None:
    def body() -> int:
        from mdmtool.commands.effective import run_effective
        return run_effective(inputs, fmt=fmt)
    _finish(body)


@app.command(help="Tell the whole story of one key: every layer that set it, the winner, "
             "the requirement that constrained it, and what to do about it.")
@machine_options(SESSION)
def explain(
    key: Annotated[str, typer.Argument(help="approval_policy, approvals_reviewer, sandbox_mode, "
                                       "network_access, permission_profile, web_search, or any config key.")],
    inputs: object = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    def body() -> int:
        from mdmtool.commands.explain import run_explain
        return run_explain(key, inputs, fmt=fmt)
    _finish(body)


# ----------------------------------------------------------------------------- more commands
# (lint, diff, history, merge, fix, prove, doctor, mdm, fleet, init are added below, each
#  as a thin wrapper over mdmtool.commands.<name>)


@app.command(help="Lint Codex config, requirements and shell files against requirements and safe "
             "practice: this machine (no PATH), files, machine trees or a fleet directory of host "
             "trees. Rules: docs/rules.md. " + EXIT_CODES_HELP)
@machine_options(FILES_ONLY)
def lint(
    paths: Annotated[Optional[list[str]], typer.Argument(
        help="Files, machine trees, or a fleet directory (<host>/etc/codex, <host>/home/<u>/.codex). "
        "Default: this machine.")] = None,
    requirements: Annotated[Optional[str], typer.Option(
        "--requirements", help="requirements.toml to apply to every config checked (the admin's).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="text, json, sarif, junit or github.")] = "text",
    output: Annotated[Optional[list[str]], typer.Option(
        "--output", help="Also write FORMAT=PATH (repeatable), e.g. --output sarif=lint.sarif.")] = None,
    jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", help="Worker processes (default: cores).")] = None,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar on stderr.")] = False,
    inputs: object = None,
) -> None:
    def body() -> int:
        from mdmtool.commands.lint import run_lint
        return run_lint(list(paths or []), requirements=requirements, fmt=fmt,
                        outputs=list(output or []), system_dir=inputs.system_dir,
                        codex_home=inputs.codex_home, cwd=inputs.cwd, profile=inputs.profile, jobs=jobs, progress=not no_progress)
    _finish(body)



KindOpt = Annotated[Optional[str], typer.Option(
    "--kind", help="Treat inputs as config, requirements or effective (default: detected).")]


@app.command(help="Posture-aware diff: each change is widening (less safe), narrowing or neutral, "
             "with the reason and file:line. A and B: config or requirements TOML files, "
             "`mdmtool effective --format json` documents, or git:REV:PATH. With --effective: two "
             "system dirs, two CODEX_HOMEs, or a file of the setup and its replacement. "
             "Exit 1 when --fail-on matches a change; 2 on bad input.")
@machine_options(FILES_AND_OVERRIDES)
def diff(
    a: Annotated[Optional[str], typer.Argument(help="Old side (or PATH with --git).")] = None,
    b: Annotated[Optional[str], typer.Argument(help="New side.")] = None,
    git_range: Annotated[Optional[str], typer.Option(
        "--git", help="REV1..REV2 (or REV1...REV2, or REV: against the work tree) for PATH.")] = None,
    effective_: Annotated[bool, typer.Option(
        "--effective", help="Diff the resolved policies of two setups instead of the files.")] = False,
    vary: Annotated[Optional[str], typer.Option(
        "--vary", help="With --effective: what A and B are: system-dir, codex-home or file "
        "(default: detected).")] = None,
    kind: KindOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="text, json or github.")] = "text",
    fail_on: Annotated[Optional[list[str]], typer.Option(
        "--fail-on", help="Exit 1 if a change is widening, narrowing, neutral or any "
        "(repeatable or comma-separated).")] = None,
    changes_only: Annotated[bool, typer.Option(
        "--no-neutral", help="Hide neutral changes.")] = False,
    inputs: object = None,
) -> None:
    def body() -> int:
        from mdmtool.commands.diff import run_diff
        return run_diff(a, b, git_range=git_range, kind=kind, fmt=fmt, fail_on=fail_on,
                        effective=effective_, vary=vary, inputs=inputs, changes_only=changes_only)
    _finish(body)


@app.command(help="Walk the git history of a config or requirements file: per commit (hash, "
             "author, date, subject) the posture change it made.")
def history(
    path: Annotated[str, typer.Argument(help="File inside a git work tree.")],
    kind: KindOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    max_count: Annotated[Optional[int], typer.Option("--max-count", "-n", help="Newest N commits.")] = None,
    rev: Annotated[str, typer.Option("--rev", help="Walk the first-parent history of REV.")] = "HEAD",
    changes_only: Annotated[bool, typer.Option("--no-neutral", help="Hide neutral changes.")] = False,
) -> None:
    def body() -> int:
        from mdmtool.commands.history import run_history
        return run_history(path, kind=kind, fmt=fmt, max_count=max_count, rev=rev,
                           changes_only=changes_only)
    _finish(body)


@app.command(help="Prove the effective sandbox policy: build a throw-away workspace, run probes "
             "under the real backend (bubblewrap+seccomp, Seatbelt, and `codex sandbox` when "
             "Codex is installed) and compare each outcome with what the policy predicts. "
             "Exit 0 only when every probe matches; 1 on a mismatch or backend disagreement.")
@machine_options(SESSION)
def prove(
    inputs: object = None,
    fmt: Annotated[str, typer.Option("--format", help="text, json or junit.")] = "text",
    keep: Annotated[bool, typer.Option("--keep", help="Keep the throw-away workspace.")] = False,
    backend: Annotated[str, typer.Option(
        "--backend", help="auto (bwrap, plus codex when found), bwrap or codex.")] = "auto",
    codex: Annotated[Optional[str], typer.Option(
        "--codex", help="Codex binary for the `codex sandbox` cross-check "
        "(default: $CODEX_BIN, else codex on PATH).")] = None,
) -> None:
    def body() -> int:
        from mdmtool.commands.prove import run_prove
        return run_prove(inputs, fmt=fmt, keep=keep, backend=backend, codex=codex)
    _finish(body)


@app.command(help="Preflight: can this host run Codex's sandbox? Checks bubblewrap and its "
             "version, user namespaces, the AppArmor userns restriction, setuid bwrap, seccomp, "
             "WSL and CODEX_HOME, each failure with its remediation. Exit 1 on a problem.")
def doctor(
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    no_smoke: Annotated[bool, typer.Option("--no-smoke", help="Skip the test bwrap runs.")] = False,
) -> None:
    def body() -> int:
        from mdmtool.commands.doctor import run_doctor
        return run_doctor(fmt=fmt, smoke=not no_smoke)
    _finish(body)


@app.command(help="Merge OVERLAY over BASE with Codex's semantics (tables recurse; arrays and "
             "scalars replace; an empty overlay table changes nothing), keeping BASE's comments, "
             "formatting and key order. Writes stdout, or -o OUT atomically.")
def merge(
    base: Annotated[str, typer.Argument(help="Base TOML file (its layout is kept).")],
    overlay: Annotated[str, typer.Argument(help="Overlay TOML file (its values win).")],
    output: Annotated[Optional[str], typer.Option("-o", "--output", help="Write here (may be BASE).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the text and posture diff only.")] = False,
    backup: Annotated[bool, typer.Option("--backup", help="Keep the replaced OUT as OUT.bak.")] = False,
    kind: KindOpt = None,
) -> None:
    def body() -> int:
        from mdmtool.commands.merge import run_merge
        return run_merge(base, overlay, output=output, dry_run=dry_run, backup=backup, kind=kind)
    _finish(body)


@app.command(help="Apply autofixes to a config or requirements file: lint's fixes, deprecated "
             "settings, values the requirements disallow (-> Codex's fallback, or --prefer). Only the "
             "lines that need it change; the write is atomic. Exit 0 all fixed, 1 something left "
             "(or, with --dry-run, something to fix), 2 bad input.")
def fix(
    file: Annotated[str, typer.Argument(help="TOML file to fix in place.")],
    requirements: Annotated[Optional[str], typer.Option(
        "--requirements", help="requirements.toml whose allow-lists the file must satisfy.")] = None,
    prefer: Annotated[Optional[list[str]], typer.Option(
        "--prefer", help="Allowed value to use instead of Codex's fallback: KEY=VALUE or VALUE "
        "(repeatable).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the diff; write nothing.")] = False,
    backup: Annotated[bool, typer.Option("--backup", help="Keep the old file as FILE.bak.")] = False,
    no_lint: Annotated[bool, typer.Option("--no-lint", help="Only the built-in fixes.")] = False,
    kind: KindOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    def body() -> int:
        from mdmtool.commands.fix import run_fix
        return run_fix(file, requirements=requirements, prefer=prefer, dry_run=dry_run,
                       backup=backup, fmt=fmt, use_lint=not no_lint, kind=kind)
    _finish(body)

# ----------------------------------------------------------------------------- mdm, fleet, init

mdm_app = typer.Typer(name="mdm", help="macOS configuration profiles (com.openai.codex) for Codex.",
                      no_args_is_help=True)
app.add_typer(mdm_app, name="mdm")


@mdm_app.command("build", help="Validate requirements / managed config TOML and write a "
                 ".mobileconfig carrying them as requirements_toml_base64 / config_toml_base64. "
                 + EXIT_CODES_HELP)
def mdm_build(
    output: Annotated[str, typer.Option("-o", "--output", help="Profile to write ('-' = stdout).")],
    requirements: Annotated[Optional[str], typer.Option("--requirements", help="requirements.toml.")] = None,
    managed_config: Annotated[Optional[str], typer.Option(
        "--managed-config", help="managed_config.toml (delivered as config_toml_base64).")] = None,
    display_name: Annotated[str, typer.Option("--display-name", help="PayloadDisplayName.")] = "Codex CLI policy",
    organization: Annotated[Optional[str], typer.Option("--organization", help="PayloadOrganization.")] = None,
    identifier: Annotated[str, typer.Option(
        "--identifier", help="Profile PayloadIdentifier (keep it stable so updates replace the profile).")
    ] = "com.openai.codex.managed",
    profile_uuid: Annotated[Optional[str], typer.Option(
        "--uuid", help="Profile PayloadUUID (default: uuid5 of the content).")] = None,
    payload_uuid: Annotated[Optional[str], typer.Option(
        "--payload-uuid", help="Inner payload PayloadUUID (default: derived).")] = None,
    description: Annotated[Optional[str], typer.Option("--description", help="PayloadDescription.")] = None,
) -> None:
    def body() -> int:
        from mdmtool.commands.mdm import run_build
        return run_build(requirements, managed_config, output, display_name=display_name,
                         organization=organization, identifier=identifier,
                         profile_uuid=profile_uuid, payload_uuid=payload_uuid, description=description)
    _finish(body)


@mdm_app.command("read", help="Decode and validate the Codex keys of a .mobileconfig (signed or "
                 "not), a .plist (XML or binary) or `defaults export com.openai.codex -` output. "
                 + EXIT_CODES_HELP)
def mdm_read(
    file: Annotated[str, typer.Argument(help="Profile or preferences plist.")],
    fmt: Annotated[str, typer.Option("--format", help="text, json, sarif, junit or github.")] = "text",
    extract: Annotated[Optional[str], typer.Option(
        "--extract", help="Also write requirements.toml / managed_config.toml into this directory.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Let --extract replace existing files.")] = False,
) -> None:
    def body() -> int:
        from mdmtool.commands.mdm import run_read
        return run_read(file, fmt=fmt, extract=extract, force=force)
    _finish(body)


@mdm_app.command("jamf-ea", help="Print a Jamf Pro extension attribute script (POSIX sh) that runs "
                 "`mdmtool effective` and reports <result>posture summary</result>.")
def mdm_jamf_ea(
    keep: Annotated[Optional[str], typer.Option(
        "--keep", help="Path where the script keeps the full JSON document for `fleet report`.")] = None,
) -> None:
    def body() -> int:
        from mdmtool.commands.mdm import run_jamf_ea
        return run_jamf_ea(keep)
    _finish(body)


fleet_app = typer.Typer(name="fleet", help="Fleet views over collected `mdmtool effective` documents.",
                        no_args_is_help=True)
app.add_typer(fleet_app, name="fleet")


@fleet_app.command("report", help="Summarise collected effective documents (a directory of JSON "
                   "files or a JSON-lines file): postures, fallbacks, refusals, sandbox backends.")
def fleet_report(
    source: Annotated[str, typer.Argument(help="Directory of *.json documents, or a .jsonl file ('-' = stdin).")],
    fmt: Annotated[str, typer.Option("--format", help="text, json or csv.")] = "text",
    csv_path: Annotated[Optional[str], typer.Option("--csv", help="Also write one CSV row per host here.")] = None,
) -> None:
    def body() -> int:
        from mdmtool.commands.fleet import run_report
        return run_report(source, fmt=fmt, csv_path=csv_path)
    _finish(body)


@fleet_app.command("impact", help="Before a rollout: predict for every host how its effective policy "
                   "changes under NEW requirements. Exit 1 with --fail-on when a host would be hit.")
def fleet_impact(
    source: Annotated[str, typer.Argument(help="Directory of *.json documents, or a .jsonl file ('-' = stdin).")],
    requirements: Annotated[str, typer.Option("--requirements", help="The new requirements.toml.")],
    channel: Annotated[str, typer.Option(
        "--channel", help="Where the new file goes: system (requirements.toml), mdm or cloud.")] = "system",
    fmt: Annotated[str, typer.Option("--format", help="text, json or csv.")] = "text",
    csv_path: Annotated[Optional[str], typer.Option("--csv", help="Also write one CSV row per host here.")] = None,
    fail_on: Annotated[Optional[list[str]], typer.Option(
        "--fail-on", help="refuse, fallback or change: exit 1 if any host would (repeatable).")] = None,
) -> None:
    def body() -> int:
        from mdmtool.commands.fleet import run_impact
        return run_impact(source, requirements, channel=channel, fmt=fmt, csv_path=csv_path,
                          fail_on=list(fail_on or []))
    _finish(body)


@fleet_app.command("summary", help="One-line posture summary of one effective document (used by "
                   "the Jamf extension attribute).")
def fleet_summary(
    file: Annotated[str, typer.Argument(help="An `mdmtool effective --format json` document ('-' = stdin).")],
) -> None:
    def body() -> int:
        from mdmtool.commands.fleet import run_summary
        return run_summary(file)
    _finish(body)


@app.command(help="Write a posture template (strict, balanced or open): requirements.toml, "
             "managed_config.toml, an example project .codex/config.toml and a README. " + EXIT_CODES_HELP)
def init(
    posture: Annotated[str, typer.Option("--posture", help="strict, balanced or open.")],
    output: Annotated[str, typer.Option("-o", "--output", help="Directory to write into.")],
    force: Annotated[bool, typer.Option("--force", help="Replace existing files.")] = False,
) -> None:
    def body() -> int:
        from mdmtool.commands.init import run_init
        return run_init(posture, output, force=force)
    _finish(body)


@app.command(help="Run the installed Codex on this machine's own files (a throw-away copy; offline, "
             "in bubblewrap; MCP servers are not started) and compare its effective policy with "
             "mdmtool's, field by field. Same inputs as `effective`. Prints the Codex version found. "
             "Exit 0 agreement, 1 a difference, 2 Codex or bubblewrap missing / bad input.")
@machine_options(CODEX_FLAGS)
def crosscheck(
    inputs: object = None,
    codex: Annotated[Optional[str], typer.Option("--codex", help="Codex binary (default: $CODEX_BIN, "
                                                 "`codex` on PATH).")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per Codex process.")] = 30.0,
    no_web_probe: Annotated[bool, typer.Option("--no-web-probe", help="Skip catching the first model "
                                               "request (faster; web search then only when configured).")] = False,
    keep: Annotated[Optional[str], typer.Option("--keep", help="Keep the throw-away copy in this directory.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    def body() -> int:
        from mdmtool.commands.crosscheck import run_crosscheck
        return run_crosscheck(inputs, fmt=fmt, codex_bin=codex, timeout=timeout,
                              observe_web_search=not no_web_probe, keep=keep)
    _finish(body)


def _keep_only_invoked(argv: list[str]) -> None:
    """Register only the command being run: Typer inspects the signature of every
    registered command on each start (about 25 ms of CPU for ours), though one runs.

    The root options are flags, so the first argument not starting with ``-`` names the
    command; with none (``--help``) or an unknown name every command stays, so help and
    "No such command" read as usual.
    """
    name = next((a for a in argv if not a.startswith("-")), None)
    if name is None:
        if "--version" in argv and "--help" not in argv:  # eager: no command runs
            del app.registered_commands[1:]  # Typer needs one command to build a group
            app.registered_groups[:] = []
        return
    cmds = [c for c in app.registered_commands
            if (c.name or c.callback.__name__.replace("_", "-")) == name]
    groups = [g for g in app.registered_groups if g.name == name]
    if cmds or groups:
        app.registered_commands[:] = cmds
        app.registered_groups[:] = groups


def main() -> None:
    """Console-script entry point."""
    _keep_only_invoked(sys.argv[1:])
    try:
        app()
    except BrokenPipeError:  # `mdmtool effective | head`
        sys.stderr.close()
        sys.exit(0)


if __name__ == "__main__":
    main()
