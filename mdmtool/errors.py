"""The one domain error family and the exit codes it maps to.

Every command raises :class:`MdmError` (or a subclass) for a problem with its input;
the CLI boundary (:func:`run_guarded`) turns it into a one-line message and an exit
code. Anything else is a bug: exit 3, with a traceback only under ``--debug``.
"""

from __future__ import annotations

import sys
from typing import Callable

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3

EXIT_CODES_HELP = (
    "Exit codes: 0 clean; 1 findings at error level (or Codex would refuse to start); "
    "2 usage or input error (missing/unreadable file, not TOML, bad option); 3 internal error."
)


class MdmError(Exception):
    """A problem with the user's input: reported as one line, exit 2."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 col: int | None = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.col = col

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.line:
                where += f":{self.line}"
                if self.col:
                    where += f":{self.col}"
            where += ": "
        return f"{where}{self.message}"


class UsageError(MdmError):
    """Bad command-line usage (unknown option value, conflicting flags)."""


def run_guarded(fn: Callable[[], int], *, debug: bool = False) -> int:
    """Run a command body; map domain errors to exit codes and one-line messages."""
    try:
        return fn()
    except MdmError as exc:
        from mdmtool.redact import redact_text  # an error line never shows a secret
        print(f"mdmtool: error: {redact_text(' '.join(str(exc).split()))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("mdmtool: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except RecursionError:
        if debug:
            raise
        print("mdmtool: error: input nested too deeply for mdmtool to follow", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - the single error boundary
        if isinstance(exc, FileNotFoundError) and _cwd_gone():
            print("mdmtool: error: the current directory no longer exists; cd to an existing "
                  "directory", file=sys.stderr)
            return EXIT_USAGE
        if debug:
            raise
        from mdmtool.redact import redact_text
        detail = redact_text(" ".join(str(exc).split()))[:500]
        print(f"mdmtool: internal error: {type(exc).__name__}: {detail} "
              "(re-run with --debug for a traceback)", file=sys.stderr)
        return EXIT_INTERNAL


def _cwd_gone() -> bool:
    import os
    try:
        os.getcwd()
    except FileNotFoundError:
        return True
    return False
