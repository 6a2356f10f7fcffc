"""One registry of output formats shared by ``validate`` and ``lint``.

Reporters only *format* findings; they never decide the exit code. Each built-in
format lives in its own module, imported only when that format is requested, so
``mdmtool validate`` pays nothing for SARIF or JUnit.

>>> from mdmtool.reporters import render
>>> render("json", findings, files=["config.toml"], tool_command="mdmtool lint")
"""

from __future__ import annotations

from mdmtool.reporters.base import Report, Reporter, formats, get_reporter, register, render

__all__ = ["Report", "Reporter", "formats", "get_reporter", "register", "render"]
