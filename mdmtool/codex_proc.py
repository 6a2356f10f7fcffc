"""How mdmtool starts Codex processes: sandboxed by bubblewrap, offline, always torn down.

``/`` is visible as is, ``/etc`` is rebuilt from the real one without ``codex/`` (the
caller's system dir is bound read-only there instead), the network namespace is empty and
only ``HOME``/``CODEX_HOME`` from the set-up reach Codex's environment.  Every wait has a
timeout and every child is stopped by its own process group id.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mdmtool.codex_driver import CodexSetup

_bwrap_ok: dict[str, str | None] = {}


def bwrap_problem() -> str | None:
    """Why bubblewrap cannot give Codex its own network namespace here, or None."""
    if "r" not in _bwrap_ok:
        exe = shutil.which("bwrap")
        if not exe:
            _bwrap_ok["r"] = "bubblewrap (`bwrap`) is not on PATH"
        else:
            try:
                r = subprocess.run([exe, "--dev-bind", "/", "/", "--unshare-net", "--", "true"],
                                   capture_output=True, timeout=15)
                _bwrap_ok["r"] = None if r.returncode == 0 else (
                    "bubblewrap cannot create namespaces here: "
                    + r.stderr.decode(errors="replace").strip()[:200])
            except (OSError, subprocess.SubprocessError) as exc:
                _bwrap_ok["r"] = f"bubblewrap does not run: {exc}"
    return _bwrap_ok["r"]


# ----------------------------------------------------------------------------- sandbox


def bwrap_prefix(setup: CodexSetup, resolv: str) -> list[str]:
    """/ as is; /etc rebuilt without codex/ (system_dir bound there); no network.

    resolv.conf points at 127.0.0.1 with a zero timeout: nothing answers DNS in the empty
    namespace and Codex's musl resolver would otherwise wait seconds per lookup.
    """
    args = ["bwrap", "--dev-bind", "/", "/", "--tmpfs", "/etc"]
    for name in sorted(os.listdir("/etc")):
        path = "/etc/" + name
        if name == "codex":
            continue
        if name == "resolv.conf":
            args += ["--ro-bind", resolv, path]
        elif os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        else:
            args += ["--dev-bind", path, path]
    if setup.system_dir:
        args += ["--ro-bind", os.path.abspath(setup.system_dir), "/etc/codex"]
    return args + ["--unshare-net", "--die-with-parent", "--chdir", setup.cwd, "--"]


def env_for(setup: CodexSetup) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", os.defpath), "HOME": setup.home,
            "CODEX_HOME": setup.codex_home, "LANG": "C.UTF-8", "TERM": "xterm",
            "NO_COLOR": "1", "RUST_LOG": "error", "MDMTOOL_PROBE_KEY": "not-a-real-key"}


def kill(p: subprocess.Popen, grace: float = 0.5) -> None:
    """Stop a child we started (and its process group) without leaving zombies."""
    try:
        p.wait(grace)
        return
    except subprocess.TimeoutExpired:
        pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(p.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            p.wait(1.0)
            return
        except subprocess.TimeoutExpired:
            continue


def strip_ansi(s: str) -> str:
    s = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", s)
    return re.sub(r"(?m)^\d{4}-\d\d-\d\dT[0-9:.]+Z\s+", "", s)


def error_lines(stderr: str) -> list[str]:
    """Codex's fatal lines: ``Error: ...`` (configuration) and clap's ``error: ...`` (usage)."""
    return [ln.strip() for ln in stderr.splitlines() if ln.strip().startswith(("Error:", "error:"))]


# Run inside the sandbox: a stand-in Responses endpoint on 127.0.0.1 that records the first
# request body and answers 503, then Codex forked with our stdin/stdout.
RUNNER = r"""
import http.server, os, sys, threading
cap = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self):
        self.send_response(503); self.send_header("Content-Length", "0"); self.end_headers()
    def do_GET(self): self.reply()
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.endswith("/responses") and not os.path.exists(cap):
            open(cap + ".part", "wb").write(body); os.rename(cap + ".part", cap)
        self.reply()
class S(http.server.ThreadingHTTPServer):
    daemon_threads = True
    def handle_error(self, *a): pass
srv = S(("127.0.0.1", 0), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
argv = [a.replace("@PORT@", str(srv.server_address[1])) for a in sys.argv[2:]]
pid = os.fork()
if pid == 0:
    try: os.execvp(argv[0], argv)
    finally: os._exit(127)
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


# ----------------------------------------------------------------------------- app-server


class Rpc:
    """A JSON-RPC conversation with one ``codex app-server`` over stdio."""

    def __init__(self, argv: list[str], env: dict, cwd: str, timeout: float):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env, cwd=cwd, start_new_session=True)
        self.deadline = time.monotonic() + timeout
        self.buf = b""
        self.notes: list[dict] = []
        self.next_id = 0
        self._err: list[bytes] = []
        self._t = threading.Thread(target=lambda: self._err.append(self.p.stderr.read()), daemon=True)
        self._t.start()

    def send(self, msg: dict) -> bool:
        try:
            self.p.stdin.write((json.dumps(msg) + "\n").encode())
            self.p.stdin.flush()
            return True
        except OSError:
            return False

    def _next(self) -> dict | None:
        while b"\n" not in self.buf:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self.p.stdout], [], [], left)[0]:
                return None
            chunk = os.read(self.p.stdout.fileno(), 1 << 16)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        try:
            return json.loads(line) if line.strip() else {}
        except ValueError:
            return {"_unparsed": line.decode(errors="replace")}

    def request(self, method: str, params: Any = None) -> dict:
        rid, self.next_id = self.next_id, self.next_id + 1
        msg = {"id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        if not self.send(msg):
            return {"error": {"message": "app-server exited"}}
        while True:
            m = self._next()
            if m is None:
                return {"error": {"message": "no response (timeout or app-server exited)"}}
            if "method" in m:
                self.notes.append(m)
            elif m.get("id") == rid:
                return m

    def close(self) -> tuple[int | None, str]:
        try:
            self.p.stdin.close()
        except OSError:
            pass
        kill(self.p)
        self._t.join(2)
        return self.p.returncode, strip_ansi(b"".join(self._err).decode(errors="replace"))


def wait_capture(capture: str, p: subprocess.Popen, timeout: float) -> dict | None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and not os.path.exists(capture) and p.poll() is None:
        time.sleep(0.02)
    try:
        with open(capture, "rb") as fh:
            return json.loads(fh.read().decode("utf-8", "replace"))
    except (OSError, ValueError):
        return None


def run_cli(setup: CodexSetup, codex: str, tmp: str, tail: list[str], runner: bool = False,
             search_as_override: bool = False) -> dict:
    argv = [codex] + (["-p", setup.profile] if setup.profile else [])
    for o in setup.overrides:
        argv += ["-c", o]
    for f in setup.flags:
        argv += ['-c', 'web_search="live"'] if (f == "--search" and search_as_override) else [f]
    argv += tail
    prefix = bwrap_prefix(setup, os.path.join(tmp, "resolv.conf"))
    capture = os.path.join(tmp, "request.json")
    if runner:
        prefix += [sys.executable, "-c", RUNNER, capture]
    t0 = time.monotonic()
    res: dict = {"argv": argv[1:]}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:  # files never block
        p = subprocess.Popen(prefix + argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                             env=env_for(setup), cwd=setup.cwd, start_new_session=True)
        if runner:
            res["request"] = wait_capture(capture, p, setup.timeout)
        try:  # after the request, exec gets a 503 and exits by itself (warnings all printed)
            p.wait(1.0 if runner else setup.timeout)
        except subprocess.TimeoutExpired:
            kill(p, grace=0)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    res["rc"] = p.returncode
    res["elapsed_s"] = round(time.monotonic() - t0, 3)
    res["stdout"] = stdout.decode(errors="replace")
    res["stderr"] = strip_ansi(stderr.decode(errors="replace"))
    return res
