"""Ask the real Codex CLI (0.169.0) which policy it resolves for a set of config files.

Used by the differential tests and ``mdmtool crosscheck``: mdmtool's own resolver is only
trusted as far as it agrees with Codex itself.  Codex runs inside bubblewrap with an empty
network namespace (nothing can leave the machine), ``HOME``/``CODEX_HOME`` pointing at the
caller's scratch dirs and ``/etc/codex`` replaced by ``setup.system_dir`` (or absent) -- the
real ``/etc/codex`` and the user's own files are never read.

How Codex is asked (the key fields only):

* no ``-p``: one ``codex app-server`` JSON-RPC session -- ``initialize``, ``config/read``
  (layers), ``configRequirements/read``, ``thread/start`` (ephemeral; its result is the
  effective approval / reviewer / sandbox / permission profile); ``configWarning``
  notifications are the warnings, the thread's ``warning`` notifications those with the
  flags applied.  If no thread starts, ``codex debug prompt-input`` (the
  interactive CLI's view) decides whether Codex would start at all.
* ``-p P``: the app-server cannot load profiles, so ``codex -p P debug prompt-input`` is
  parsed (permissions text), and ``codex -p P exec`` (no model reachable) supplies the
  warnings of the profile's stack.
* flags are first checked by the CLI's own argument parser (``codex FLAGS completion bash``):
  what it refuses (``-a untrusted``, ``--full-auto``, ``-a`` with ``--dangerously-bypass-...``)
  means Codex does not start.
* ``observe_web_search``: the first model request is caught by a stand-in endpoint on
  127.0.0.1 *inside* the sandbox; its web search tool is the effective web search mode.

Paths in the answer are the real ones; callers normalise them.  Process plumbing (sandbox,
JSON-RPC, teardown) lives in :mod:`mdmtool.codex_proc`.  Never imported by the CLI at start-up.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from mdmtool.codex_proc import (RUNNER, Rpc, bwrap_prefix, bwrap_problem, env_for, error_lines,
                                run_cli, wait_capture)
from mdmtool.errors import MdmError

__all__ = ["CODEX_VERSION", "CodexAnswer", "CodexSetup", "CodexUnavailable", "bwrap_problem",
           "codex_version", "find_codex", "run_codex", "scratch_root"]

CODEX_VERSION = "0.169.0"
_NPM_BINS = (
    "node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex",
    "node_modules/@openai/codex-linux-arm64/vendor/aarch64-unknown-linux-musl/bin/codex",
)
_SANDBOX = {"readOnly": "read-only", "workspaceWrite": "workspace-write",
            "dangerFullAccess": "danger-full-access", "externalSandbox": "external-sandbox"}
#: overrides that point the model provider at the in-sandbox stand-in endpoint
_PROBE_KEYS = ("model", "model_provider", "model_providers")
_PROBE_OVERRIDES = [
    "-c", 'model="gpt-5.5"', "-c", 'model_provider="mdmtool_probe"',
    "-c", 'model_providers.mdmtool_probe={name="mdmtool probe", base_url="http://127.0.0.1:@PORT@/v1", '
          'env_key="MDMTOOL_PROBE_KEY", wire_api="responses", supports_websockets=false, '
          'request_max_retries=0, stream_max_retries=0}',
]


class CodexUnavailable(MdmError):
    """Codex or bubblewrap cannot be run here (missing binary, no user namespaces)."""


@dataclass
class CodexSetup:
    """One Codex start-up: the files it sees and its command line."""

    codex_home: str
    home: str
    cwd: str
    system_dir: str | None = None  # mounted read-only at /etc/codex; None = no /etc/codex
    profile: str | None = None
    overrides: list[str] = field(default_factory=list)  # each passed as -c K=V
    flags: list[str] = field(default_factory=list)  # --sandbox X, -a X, --add-dir D, --search, ...
    codex_bin: str | None = None  # default: find_codex()
    timeout: float = 20.0  # per Codex process
    observe_web_search: bool = False  # catch the first model request (slower, exact web search)


@dataclass
class CodexAnswer:
    """What Codex resolved; ``None`` where this run cannot observe a field."""

    startup_ok: bool
    errors: list[str] = field(default_factory=list)
    approval_policy: str | None = None  # on-request | never | untrusted | granular
    approval_granular: dict | None = None
    approvals_reviewer: str | None = None
    sandbox_mode: str | None = None
    network_access: bool | None = None
    permission_profile: str | None = None  # active profile id (":workspace", custom) or None
    web_search: str | None = None
    web_search_source: str | None = None  # observed | configured | requirement-fallback
    warnings: list[str] = field(default_factory=list)
    #: the thread's own warnings (``warning`` notifications after thread/start): computed with
    #: -s/-a/--dangerously-... applied, which the start-up ``warnings`` above are not; they
    #: repeat the start-up ones except project-trust notices.  None: no thread was started.
    thread_warnings: list[str] | None = None
    requirements: dict | None = None
    layers: list | None = None
    source: str = "app-server"  # app-server | cli
    elapsed_s: float = 0.0
    raw: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- locating


def codex_version(bin: str) -> str:
    """``"0.169.0"`` for ``codex-cli 0.169.0``; ``""`` when the binary does not answer."""
    try:
        out = subprocess.run([bin, "--version"], capture_output=True, timeout=15,
                             stdin=subprocess.DEVNULL).stdout.decode(errors="replace")
    except (OSError, subprocess.SubprocessError):
        return ""
    m = re.search(r"(\d+\.\d+\.\d+\S*)", out)
    return m.group(1) if m else ""


def find_codex(explicit: str | None = None, version: str | None = None) -> str | None:
    """The Codex binary: ``explicit``, ``$CODEX_BIN``, ``codex`` on PATH, the npm cache.

    With ``version``, candidates other than ``explicit`` of another version are skipped.
    """
    if explicit:
        path = shutil.which(explicit) or (explicit if os.path.isfile(explicit) else None)
        return os.path.abspath(path) if path and os.access(path, os.X_OK) else None
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    cands = [os.environ.get("CODEX_BIN"), shutil.which("codex")]
    cands += [os.path.join(cache, "codex-npm", CODEX_VERSION, rel) for rel in _NPM_BINS]
    for cand in cands:
        path = cand and (shutil.which(cand) or cand)
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            if version is None or codex_version(path) == version:
                return os.path.abspath(path)
    return None


def scratch_root() -> str:
    """A private base for case copies outside the temp dir (Codex treats /tmp specially)."""
    base = os.environ.get("MDMTOOL_CODEX_SCRATCH") or os.path.join("/var/tmp", f"mdmtool-codex-{os.getuid()}")
    os.makedirs(base, mode=0o700, exist_ok=True)
    return base


def _under(path: str, root: str) -> bool:
    path = os.path.realpath(path)
    return path == root or path.startswith(root.rstrip("/") + "/")


def _split_flags(flags: list[str]) -> tuple[dict, list[str], list[str]]:
    """CLI flags -> (thread/start params, extra app-server args, flags with no equivalent)."""
    params: dict = {}
    extra: list[str] = []
    unmapped: list[str] = []
    it = iter(flags)
    for f in it:
        name, _, inline = f.partition("=") if f.startswith("--") else (f, "", "")
        if name in ("-s", "--sandbox"):
            params["sandbox"] = inline or next(it, None)
        elif name in ("-a", "--ask-for-approval"):
            params["approvalPolicy"] = inline or next(it, None)
        elif name == "--search":
            extra += ["-c", 'web_search="live"']  # what the interactive CLI does with it
        elif name in ("--enable", "--disable", "-c", "--config"):
            extra += [name, inline or next(it, "")]
        elif name == "--dangerously-bypass-approvals-and-sandbox":
            params.update(sandbox="danger-full-access", approvalPolicy="never")
        elif name in ("--add-dir", "-C", "--cd", "-m", "--model") and not inline:
            unmapped += [f, next(it, "")]
        else:
            unmapped.append(f)
    return params, extra, unmapped


def _run_app_server(setup: CodexSetup, codex: str, tmp: str, thread: bool) -> dict:
    params, extra, unmapped = _split_flags(setup.flags)
    argv = [codex, "app-server"]
    for o in setup.overrides:
        argv += ["-c", o]
    argv += extra
    capture = os.path.join(tmp, "request.json")
    observe = thread and setup.observe_web_search
    prefix = bwrap_prefix(setup, os.path.join(tmp, "resolv.conf"))
    if observe:
        prefix += [sys.executable, "-c", RUNNER, capture]
        argv += _PROBE_OVERRIDES
    out: dict = {"argv": argv[1:], "thread_start_params": params, "unmapped_flags": unmapped}
    t0 = time.monotonic()
    s = Rpc(prefix + argv, env_for(setup), setup.cwd, setup.timeout)
    try:
        init = s.request("initialize", {"clientInfo": {"name": "mdmtool", "version": "1"},
                                        "capabilities": {"experimentalApi": True}})
        out["initialize"] = init
        if "result" in init:
            s.send({"method": "initialized"})
            out["config_read"] = s.request("config/read", {"includeLayers": True, "cwd": setup.cwd})
            out["requirements_read"] = s.request("configRequirements/read")
            if thread:
                ts = s.request("thread/start", {"cwd": setup.cwd, "ephemeral": True, **params})
                out["thread_start"] = ts
                tid = ((ts.get("result") or {}).get("thread") or {}).get("id")
                if tid:  # a round trip after thread/start: its thread-scoped warnings come first
                    s.request("configRequirements/read")
                if observe and tid:
                    s.send({"id": 900, "method": "turn/start", "params": {
                        "threadId": tid, "input": [{"type": "text", "text": "probe"}]}})
                    out["request"] = wait_capture(capture, s.p, setup.timeout)
    finally:
        out["rc"], out["stderr"] = s.close()
        out["elapsed_s"] = round(time.monotonic() - t0, 3)
    out["notifications"] = [m for m in s.notes if m.get("method") in ("configWarning", "warning", "error")]
    return out


def _observed_web_search(body: dict | None) -> str | None:
    if body is None:
        return None
    tools = [t for t in body.get("tools") or [] if t.get("type") == "web_search"]
    if not tools:
        return "disabled"
    if tools[0].get("indexed_web_access"):
        return "indexed"
    return "live" if tools[0].get("external_web_access") else "cached"


def _parse_prompt_input(stdout: str) -> dict | None:
    """The permissions section the interactive CLI would send to the model."""
    try:
        items = json.loads(stdout)
    except ValueError:
        return None
    text = None
    for it in items if isinstance(items, list) else []:
        for c in it.get("content") or []:
            m = re.search(r"<permissions instructions>(.*?)</permissions instructions>",
                          c.get("text") or "", re.S)
            text = m.group(1) if m else text
    if text is None:
        return None
    info: dict = {"text": text}
    m = re.search(r"`sandbox_mode` is `([a-z-]+)`", text)
    info["sandbox_mode"] = m.group(1) if m else None
    info["network"] = ("restricted" if "Network access is restricted" in text
                       else "enabled" if "Network access is enabled" in text else None)
    m = (re.search(r"Approval policy is currently ([A-Za-z_-]+)", text)
         or re.search(r"`approval_policy` is `([A-Za-z_-]+)`", text))
    approval = m.group(1) if m else None
    m = re.search(r"`approvals_reviewer` is `([a-z_]+)`", text)
    if approval == "unless-trusted":
        approval = "untrusted"
    elif approval is None and not m and "# Escalation Requests" in text:
        approval = "on-request"
    info["approval_policy"] = approval  # None: auto_review text or granular (not readable)
    # the text names the reviewer only where it matters (on-request); elsewhere it is unknown
    info["approvals_reviewer"] = m.group(1) if m else ("user" if approval == "on-request" else None)
    return info


# ----------------------------------------------------------------------------- answer


def _approval(value: Any) -> tuple[str | None, dict | None]:
    if isinstance(value, dict) and "granular" in value:
        return "granular", value["granular"]
    return value, None


def _configured_web_search(cfg_read: dict, warnings: list[str]) -> tuple[str | None, str | None]:
    for w in warnings:
        m = re.search(r"`web_search_mode` is disallowed by requirements; falling back to required "
                      r"value (\w+)", w)
        if m:
            return m.group(1).lower(), "requirement-fallback"
    ws = ((cfg_read.get("result") or {}).get("config") or {}).get("web_search")
    return (ws, "configured") if ws else (None, None)


def _layers(cfg_read: dict, observe: bool) -> list | None:
    layers = (cfg_read.get("result") or {}).get("layers")
    if not observe or layers is None:
        return layers
    out = []
    for layer in layers:  # drop what the probe itself added to the session-flags layer
        if (layer.get("name") or {}).get("type") == "sessionFlags":
            cfg = {k: v for k, v in (layer.get("config") or {}).items() if k not in _PROBE_KEYS}
            if not cfg:
                continue
            layer = {**layer, "config": cfg}
        out.append(layer)
    return out


def _from_cli(ans: CodexAnswer, cli: dict) -> None:
    perms = _parse_prompt_input(cli["stdout"]) if cli["rc"] == 0 else None
    ans.source = "cli"
    ans.startup_ok = perms is not None
    ans.errors += [e for e in error_lines(cli["stderr"]) if e not in ans.errors]
    if perms:
        ans.approval_policy = perms["approval_policy"]
        ans.approvals_reviewer = perms["approvals_reviewer"]
        ans.sandbox_mode = perms["sandbox_mode"]
        ans.network_access = (True if perms["sandbox_mode"] == "danger-full-access"
                              else None if perms["network"] is None else perms["network"] == "enabled")


def run_codex(setup: CodexSetup) -> CodexAnswer:
    """Start Codex on ``setup`` (sandboxed, offline) and report what it resolved."""
    codex = find_codex(setup.codex_bin)
    if not codex:
        raise CodexUnavailable("Codex CLI not found: set CODEX_BIN or put `codex` on PATH")
    problem = bwrap_problem()
    if problem:
        raise CodexUnavailable(problem)
    for d in (setup.codex_home, setup.home, setup.cwd):
        if not os.path.isdir(d):
            raise MdmError(f"not a directory: {d}")
    if _under(setup.codex_home, "/tmp"):
        # Codex then refuses its helper binaries and e.g. custom permission profiles fail
        raise MdmError(f"CODEX_HOME {setup.codex_home} is under /tmp, where Codex 0.169.0 "
                       "behaves differently; use scratch_root() (under /var/tmp)")
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mdmtool-codex-") as tmp:
        with open(os.path.join(tmp, "resolv.conf"), "w") as fh:
            fh.write("nameserver 127.0.0.1\noptions timeout:0 attempts:1\n")
        ans = CodexAnswer(startup_ok=False)
        if setup.flags and _usage_error(ans, setup, codex, tmp):
            ans.elapsed_s = round(time.monotonic() - t0, 3)
            return ans
        if setup.profile:  # the app-server only reports requirements/layers here: in parallel
            box: dict = {}
            t = threading.Thread(target=lambda: box.update(app=_run_app_server(setup, codex, tmp, False)))
            t.start()
            _answer_profile(ans, setup, codex, tmp)
            t.join()
            app = box.get("app") or {}
        else:
            app = _run_app_server(setup, codex, tmp, thread=True)
            _answer_app_server(ans, setup, codex, tmp, app)
        ans.raw["app_server"] = app
        ans.requirements = (app.get("requirements_read") or {}).get("result")
        ans.layers = _layers(app.get("config_read") or {}, setup.observe_web_search)
    ans.elapsed_s = round(time.monotonic() - t0, 3)
    return ans


def _usage_error(ans: CodexAnswer, setup: CodexSetup, codex: str, tmp: str) -> bool:
    """Does the CLI reject the flags themselves (clap exits 2, e.g. ``-a untrusted``)?

    The app-server accepts what the interactive command line refuses, so check first.
    """
    cli = run_cli(setup, codex, tmp, ["completion", "bash"])  # parses fully, unlike --version
    cli.pop("stdout")  # the completion script
    ans.raw["cli_usage_check"] = cli
    if cli["rc"] != 2:
        return False
    ans.source = "cli"
    ans.errors = error_lines(cli["stderr"])[:1]
    return True


def _answer_app_server(ans: CodexAnswer, setup: CodexSetup, codex: str, tmp: str, app: dict) -> None:
    ans.warnings = [(n.get("params") or {}).get("summary") or ""
                    for n in app["notifications"] if n.get("method") == "configWarning"]
    for resp in (app.get("initialize"), app.get("thread_start")):
        msg = ((resp or {}).get("error") or {}).get("message")
        if msg and not msg.startswith("no response"):
            ans.errors.append(msg)
    ans.errors += [e for e in error_lines(app["stderr"]) if e not in ans.errors]
    ts = (app.get("thread_start") or {}).get("result")
    if not ts:  # no thread: would the interactive CLI start?  (fail closed if not)
        cli = run_cli(setup, codex, tmp, ["debug", "prompt-input"])
        ans.raw["cli_prompt_input"] = cli
        _from_cli(ans, cli)
        return
    ans.startup_ok = True
    ans.thread_warnings = [(n.get("params") or {}).get("message") or ""
                           for n in app["notifications"] if n.get("method") == "warning"]
    ans.approval_policy, ans.approval_granular = _approval(ts.get("approvalPolicy"))
    ans.approvals_reviewer = ts.get("approvalsReviewer")
    sb = ts.get("sandbox") or {}
    ans.sandbox_mode = _SANDBOX.get(sb.get("type"), sb.get("type"))
    na = sb.get("networkAccess")
    ans.network_access = (sb.get("type") == "dangerFullAccess"
                          or (na == "enabled" if isinstance(na, str) else bool(na)))
    ans.permission_profile = (ts.get("activePermissionProfile") or {}).get("id")
    if setup.observe_web_search and app.get("request") is not None:
        ans.web_search, ans.web_search_source = _observed_web_search(app["request"]), "observed"
    else:
        ans.web_search, ans.web_search_source = _configured_web_search(
            app.get("config_read") or {}, ans.warnings)


def _answer_profile(ans: CodexAnswer, setup: CodexSetup, codex: str, tmp: str) -> None:
    cli = run_cli(setup, codex, tmp, ["debug", "prompt-input"])
    ans.raw["cli_prompt_input"] = cli
    _from_cli(ans, cli)
    if not ans.startup_ok:
        return
    # `exec` prints the profile stack's fallbacks as "warning:" lines.  It forces approval
    # `never`, so its approval_policy warnings say nothing about an interactive session.
    ex = run_cli(setup, codex, tmp, ["exec", "--skip-git-repo-check", "--ephemeral"]
                  + _PROBE_OVERRIDES + ["probe"], runner=True, search_as_override=True)
    ans.raw["cli_exec"] = ex
    for ln in (ex["stdout"] + "\n" + ex["stderr"]).splitlines():
        w = ln.strip()[len("warning:"):].strip() if ln.strip().startswith("warning:") else None
        if w and "`approval_policy`" not in w:
            ans.warnings.append(w)  # as printed: exec repeats some (callers may dedupe)
    if setup.observe_web_search and ex.get("request") is not None:
        ans.web_search, ans.web_search_source = _observed_web_search(ex["request"]), "observed"
    else:
        ans.web_search, ans.web_search_source = _configured_web_search({}, ans.warnings)
