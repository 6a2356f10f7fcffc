"""``mdmtool prove``: run probes under the real sandbox backend for the effective policy."""

from __future__ import annotations

import sys

from mdmtool.errors import EXIT_FINDINGS, UsageError
from mdmtool.model import FsEntry, NetworkPolicy, ResolveInputs, SandboxSpec
from mdmtool.record import replace

FORMATS = ("text", "json", "junit")
BACKENDS = ("auto", "bwrap", "codex")


def sandbox_spec(policy) -> SandboxSpec:
    """The resolver's SandboxSpec, completed with what prove needs to know.

    * the network proxy runs when ``features.network_proxy`` is on or a managed
      ``[experimental_network]`` is enabled (enforcement.md §2.1);
    * a profile extending ``:read-only`` lists only its own entries: add the base read
      grant so the entries are the whole profile (``:workspace`` is the layout default).
    """
    spec = policy.sandbox
    managed = (policy.requirements or {}).get("experimental_network")
    proxy = bool((policy.features or {}).get("network_proxy")) or (
        isinstance(managed, dict) and managed.get("enabled") is True)
    if proxy and spec.network_access:
        net = spec.network or NetworkPolicy(enabled=True)
        spec = replace(spec, network=replace(net, proxy_active=True))
    if spec.fs_entries and policy.permission_profile_extends == ":read-only" and not any(
            e.special in (":root", "root") for e in spec.fs_entries):
        spec = replace(spec, fs_entries=[FsEntry("read", special=":root"), *spec.fs_entries])
    return spec


def run_prove(inputs: ResolveInputs, *, fmt: str = "text", keep: bool = False,
              backend: str = "auto", codex: str | None = None) -> int:
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r} (choose from {', '.join(FORMATS)})")
    if backend not in BACKENDS:
        raise UsageError(f"unknown --backend {backend!r} (choose from {', '.join(BACKENDS)})")
    from mdmtool.prove.engine import prove
    from mdmtool.prove.report import render
    from mdmtool.resolve import resolve
    policy = resolve(inputs)
    if not policy.ok or policy.sandbox is None:
        for err in policy.errors or ["no sandbox policy resolved"]:
            print(f"mdmtool: Codex would refuse to start: {err}", file=sys.stderr)
        return EXIT_FINDINGS
    result = prove(sandbox_spec(policy), backends=(backend,), keep=keep, codex=codex)
    sys.stdout.write(render(result, fmt))
    return result.exit_code()
