"""Probe runner: executed INSIDE the sandbox as ``python3 -I -S -c <this source> JSON``.

Standard library only and self-contained (it is passed as source text, so a deny rule
over the installed package cannot hide it). Input: ``{"ctx": {...}, "ops": [...]}``;
output: one JSON object ``{id: [observed, detail]}`` on stdout. Nothing here sends a
packet off the machine: network probes talk to loopback listeners the launcher opened,
and the egress check is a UDP ``connect()``, which only consults the routing table.
"""

import errno
import json
import os
import socket
import sys

ALLOWED, DENIED = "allowed", "denied"


def _err(exc):
    code = errno.errorcode.get(getattr(exc, "errno", None) or 0, type(exc).__name__)
    return "%s: %s" % (code, getattr(exc, "strerror", None) or exc)


def op_write(op, ctx):
    path = op["target"]
    try:
        with open(path, "w") as fh:
            fh.write("mdmtool probe\n")
    except OSError as exc:
        return DENIED, _err(exc)
    try:
        os.unlink(path)
    except OSError:
        pass
    return ALLOWED, "wrote " + path


def op_create_in(op, ctx):
    """mkdir DIR (an existing placeholder is fine) then write a file inside it."""
    d = op["target"]
    made = False
    try:
        os.mkdir(d)
        made = True
    except FileExistsError:
        pass
    except OSError as exc:
        return DENIED, "mkdir: " + _err(exc)
    res = op_write({"target": os.path.join(d, "mdmtool-probe")}, ctx)
    if made:
        try:
            os.rmdir(d)
        except OSError:
            pass
    return res


def op_read(op, ctx):
    try:
        with open(op["target"], "rb") as fh:
            fh.read(1)
    except OSError as exc:
        return DENIED, _err(exc)
    return ALLOWED, "read " + op["target"]


def op_list(op, ctx):
    try:
        n = len(os.listdir(op["target"]))
    except OSError as exc:
        return DENIED, _err(exc)
    return ALLOWED, "%d entries" % n


def _pong(sock):
    data = sock.recv(5)
    sock.close()
    return (ALLOWED, "PONG") if data == b"PONG\n" else (DENIED, "no PONG: %r" % data)


def op_tcp(op, ctx):
    try:
        s = socket.create_connection(("127.0.0.1", ctx["tcp_port"]), timeout=3)
        return _pong(s)
    except OSError as exc:
        return DENIED, _err(exc)


def op_unix(op, ctx):
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    except OSError as exc:
        return DENIED, "socket: " + _err(exc)
    try:
        s.settimeout(3)
        s.connect(ctx["unix_path"])
        return _pong(s)
    except OSError as exc:
        s.close()
        return DENIED, "connect: " + _err(exc)


def op_socket(op, ctx):
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
    except OSError as exc:
        return DENIED, _err(exc)
    return ALLOWED, "socket created"


def _netns():
    try:
        return os.readlink("/proc/self/ns/net")
    except OSError:
        return None


def op_egress(op, ctx):
    """Direct egress = IP sockets allowed AND the launcher's network namespace.

    In a separate namespace a UDP connect() to TEST-NET shows there is no route; in the
    launcher's namespace nothing is attempted (no packet could leave either way).
    """
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    except OSError as exc:
        return DENIED, "socket: " + _err(exc)
    ns = _netns()
    try:
        if ns is None:  # no network namespaces (macOS): the route lookup is the answer
            try:
                s.connect((op["target"], 9))  # UDP: nothing is sent
            except OSError as exc:
                return DENIED, "connect: " + _err(exc)
            return ALLOWED, "route to %s exists (nothing sent)" % op["target"]
        if ns == ctx.get("launcher_netns"):
            return ALLOWED, "IP sockets allowed in the launcher's network namespace " + ns
        try:
            s.connect((op["target"], 9))  # UDP: route lookup only, nothing is sent
        except OSError as exc:
            return DENIED, "separate network namespace %s: %s" % (ns, _err(exc))
        return DENIED, "separate network namespace %s (route exists inside it)" % ns
    finally:
        s.close()


def read_status(path="/proc/self/status"):
    """(NoNewPrivs, Seccomp, Seccomp_filters) of a process, as strings."""
    vals = {}
    with open(path) as fh:
        for line in fh:
            k, _, v = line.partition(":")
            if k in ("NoNewPrivs", "Seccomp", "Seccomp_filters"):
                vals[k] = v.strip()
    return [vals.get("NoNewPrivs", "?"), vals.get("Seccomp", "?"), vals.get("Seccomp_filters", "0")]


def op_status(op, ctx):
    """confined = no_new_privs + a seccomp filter on top of the launcher's own."""
    try:
        nnp, mode, nfilt = read_status()
    except OSError as exc:
        return "unknown", _err(exc)
    state = "NoNewPrivs=%s Seccomp=%s filters=%s" % (nnp, mode, nfilt)
    base = ctx.get("launcher_status") or ["0", "0", "0"]
    if nnp == "1" and mode == "2" and int(nfilt or 0) > int(base[2] or 0):
        return "confined", state
    if [nnp, mode, nfilt] == list(base):
        return "unconfined", state + " (same as the launcher)"
    return "partial", state


def _proxy_addr():
    url = os.environ.get("HTTP_PROXY") or os.environ.get("http_proxy") or ""
    if not url.startswith("http://"):
        return None
    hostport = url[len("http://"):].split("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    return (host, int(port)) if host and port.isdigit() else None


def op_proxy_env(op, ctx):
    addr = _proxy_addr()
    if addr and addr[0] in ("127.0.0.1", "localhost", "[::1]"):
        return ALLOWED, "HTTP_PROXY=http://%s:%d" % addr
    return DENIED, "HTTP_PROXY=%r" % (os.environ.get("HTTP_PROXY"),)


def op_proxy(op, ctx):
    """GET http://HOST:PORT/ through the HTTP proxy; the answer names the decision."""
    addr = _proxy_addr()
    if addr is None:
        return DENIED, "no HTTP_PROXY in the environment"
    host, port = op["target"], ctx["http_port"]
    try:
        s = socket.create_connection(addr, timeout=5)
        s.sendall(("GET http://%s:%d/ HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n"
                   % (host, port, host, port)).encode())
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
    except OSError as exc:
        return DENIED, "proxy: " + _err(exc)
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = head.split("\r\n")
    status = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "?"
    reason = None
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "x-proxy-error":
            reason = v.strip()
    if status == "200" and reason is None:
        return ALLOWED, "HTTP 200 from the loopback listener"
    return DENIED, "HTTP %s %s" % (status, reason or "")


OPS = {"write": op_write, "create_in": op_create_in, "read": op_read, "list": op_list,
       "tcp": op_tcp, "unix": op_unix, "socket": op_socket, "egress": op_egress,
       "status": op_status, "proxy": op_proxy, "proxy_env": op_proxy_env}


def main(argv):
    doc = json.loads(argv[1])
    ctx = doc.get("ctx", {})
    out = {}
    for op in doc["ops"]:
        try:
            out[op["id"]] = list(OPS[op["op"]](op, ctx))
        except Exception as exc:  # a broken probe is reported, never fatal
            out[op["id"]] = ["error", "%s: %s" % (type(exc).__name__, exc)]
    sys.stdout.write("MDMTOOL-PROBES " + json.dumps(out) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
