"""The launcher's side of a proof: loopback listeners the probes try to reach.

Used in-process by the bwrap backend, and as a script (``python3 -I hostside.py JSON``)
inside the loopback-only network namespace in which :mod:`.codex_sandbox` runs Codex.
Every listener binds 127.0.0.1 or a Unix socket path: nothing here can be reached
from, or send to, another machine. Standard library only.
"""

import json
import os
import socket
import subprocess
import sys
import threading

PONG = b"PONG\n"


class Listeners:
    """TCP and Unix PONG listeners, plus an HTTP 200 server for proxy probes."""

    def __init__(self, unix_path, with_http=False):
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(16)
        self.unix_path = unix_path
        if os.path.exists(unix_path):
            os.unlink(unix_path)
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind(unix_path)
        os.chmod(unix_path, 0o777)
        self.unix.listen(16)
        self.http = None
        for sock in (self.tcp, self.unix):
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()
        if with_http:
            self.http = _http_server()
            threading.Thread(target=self.http.serve_forever, daemon=True).start()

    @staticmethod
    def _serve(sock):
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            try:
                conn.sendall(PONG)
            except OSError:
                pass
            conn.close()

    def ctx(self):
        out = {"tcp_port": self.tcp.getsockname()[1], "unix_path": self.unix_path}
        if self.http is not None:
            out["http_port"] = self.http.server_address[1]
        out.update(launcher_ctx())
        return out

    def close(self):
        for s in (self.tcp, self.unix):
            try:
                s.close()
            except OSError:
                pass
        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()
        try:
            os.unlink(self.unix_path)
        except OSError:
            pass


def _http_server():
    """A loopback HTTP server answering 200 (the proxy's allowed destination)."""
    import http.server  # only proxy proofs need it

    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server API
            body = b"mdmtool prove\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)


def launcher_ctx():
    """What the probes compare against: this process's netns and confinement."""
    try:
        netns = os.readlink("/proc/self/ns/net")
    except OSError:
        netns = None
    status = ["0", "0", "0"]
    try:
        vals = {}
        with open("/proc/self/status") as fh:
            for line in fh:
                k, _, v = line.partition(":")
                vals[k] = v.strip()
        status = [vals.get("NoNewPrivs", "?"), vals.get("Seccomp", "?"),
                  vals.get("Seccomp_filters", "0")]
    except OSError:
        pass
    return {"launcher_netns": netns, "launcher_status": status}


def main(argv):
    """Script mode: start listeners, run one command with the probe doc, report JSON."""
    job = json.loads(argv[1])
    lis = Listeners(job["unix_path"], with_http=job.get("http", False))
    try:
        doc = job["doc"]
        doc["ctx"] = lis.ctx()
        argv_run = job["argv"] + [json.dumps(doc)]
        try:
            r = subprocess.run(argv_run, cwd=job["cwd"], env=job["env"], capture_output=True,
                               text=True, timeout=job.get("timeout", 60))
            res = {"rc": r.returncode, "stdout": r.stdout, "stderr": r.stderr}
        except subprocess.TimeoutExpired as exc:
            res = {"rc": None, "stdout": exc.stdout or "", "stderr": "timed out"}
        except OSError as exc:
            res = {"rc": None, "stdout": "", "stderr": "cannot run %s: %s" % (argv_run[0], exc)}
        res["ctx"] = doc["ctx"]
    finally:
        lis.close()
    sys.stdout.write(json.dumps(res) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
