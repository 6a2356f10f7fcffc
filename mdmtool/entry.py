"""Console-script entry point, with a fast path for the commands people run most.

``mdmtool effective`` and ``mdmtool explain`` answer in about 60 ms, less than Typer and
Click take to import. So a plain invocation of either (and ``mdmtool --version``) is parsed
here with argparse, built from the same option table as the Typer command
(:mod:`mdmtool.machine_options`), and run under the same error boundary. Anything else —
``--help``, root options, an argument argparse does not accept, ``MDMTOOL_NO_FAST_PATH=1``
— goes to the Typer app, which stays the single source of help and usage errors.
"""

from __future__ import annotations

import os
import sys

#: command -> its positional arguments (``--format`` values are checked by the command)
FAST_COMMANDS = {"effective": (), "explain": ("key",)}


class _NotForUs(Exception):
    """argparse could not take this command line: let Typer say what is wrong."""


def parse_fast(argv: list[str]) -> tuple[str, dict] | None:
    """(command, parsed values) when the fast path can take ``argv``, else None."""
    if not argv or argv[0] not in FAST_COMMANDS or os.environ.get("MDMTOOL_NO_FAST_PATH"):
        return None
    if any(a in ("--help", "-h") or a.startswith("--help=") for a in argv[1:]):
        return None
    import argparse

    from mdmtool.machine_options import MACHINE_OPTIONS

    class Parser(argparse.ArgumentParser):
        def error(self, message):  # noqa: D102 - argparse's hook
            raise _NotForUs(message)

    parser = Parser(prog=f"mdmtool {argv[0]}", add_help=False, allow_abbrev=False)
    for name in FAST_COMMANDS[argv[0]]:
        parser.add_argument(name)
    for o in MACHINE_OPTIONS:
        action = {"value": "store", "list": "append", "flag": "store_true"}[o.kind]
        parser.add_argument(*o.flags, dest=o.dest, action=action)
    parser.add_argument("--format", dest="fmt", default="text")
    try:
        values = vars(parser.parse_args(argv[1:]))
    except _NotForUs:
        return None
    return argv[0], values


def run_fast(command: str, values: dict) -> int:
    from mdmtool.errors import run_guarded
    from mdmtool.machine_options import inputs_from

    def body() -> int:
        fmt = values.pop("fmt")
        if command == "effective":
            from mdmtool.commands.effective import run_effective
            return run_effective(inputs_from(values), fmt=fmt)
        from mdmtool.commands.explain import run_explain
        key = values.pop("key")
        return run_explain(key, inputs_from(values), fmt=fmt)
    return run_guarded(body)


def codex_short_values(argv: list[str]) -> list[str]:
    """``-s=read-only`` -> ``-sread-only`` for Codex's short options that take a value.

    Codex's parser (clap) reads ``-s=read-only`` as ``-s read-only``; Click would take
    ``=read-only`` as the value. argparse already reads it as Codex does.
    """
    from mdmtool.machine_options import MACHINE_OPTIONS
    short = {f for o in MACHINE_OPTIONS if o.kind != "flag" for f in o.flags if len(f) == 2}
    out, takes_value = [], False
    for arg in argv:
        if not takes_value and arg[:2] in short and arg[2:3] == "=":
            arg = arg[:2] + arg[3:]
        takes_value = arg in short or (arg.startswith("--") and "=" not in arg and arg != "--")
        out.append(arg)
    return out


def main() -> None:
    """Console-script entry point."""
    if sys.argv[1:] == ["--version"] and not os.environ.get("MDMTOOL_NO_FAST_PATH"):
        from mdmtool import version_text
        print(version_text())
        sys.exit(0)
    fast = parse_fast(sys.argv[1:])
    if fast is None:
        from mdmtool.cli import main as typer_main
        sys.argv[1:] = codex_short_values(sys.argv[1:])
        typer_main()
        return
    try:
        code = run_fast(*fast)
        sys.stdout.flush()
    except BrokenPipeError:  # `mdmtool effective | head`, as the Typer path does
        sys.stderr.close()
        code = 0
    sys.exit(code)
