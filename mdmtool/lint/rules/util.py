"""Small helpers shared by rule families: table walking and value tests."""

from __future__ import annotations

import os
from typing import Any, Iterator

BUILTIN_PROFILES = (":read-only", ":workspace", ":danger-full-access")
APPROVAL_RANK = {"untrusted": 0, "on-request": 1, "on-failure": 1, "never": 2}
SANDBOX_RANK = {"read-only": 0, "workspace-write": 1, "danger-full-access": 2}


def tables(data: Any, path: tuple = ()) -> Iterator[tuple[tuple, dict]]:
    """Every table (dict) in ``data`` with its key path, depth first."""
    if isinstance(data, dict):
        yield path, data
        for k, v in data.items():
            if isinstance(v, dict):
                yield from tables(v, path + (k,))


def network_tables(data: dict, kind: str) -> Iterator[tuple[tuple, dict]]:
    """Tables that carry a network proxy policy: profile networks, the proxy feature table,
    and requirements' [experimental_network] (or its alias [network_proxy])."""
    if kind == "requirements":
        from mdmtool.requirements import network_table
        name, en = network_table(data)
        if en is not None:
            yield (name,), en
        perms = data.get("permissions")
        if isinstance(perms, dict):
            for name, prof in perms.items():
                if isinstance(prof, dict) and isinstance(prof.get("network"), dict):
                    yield ("permissions", name, "network"), prof["network"]
        return
    perms = data.get("permissions")
    if isinstance(perms, dict):
        for name, prof in perms.items():
            if isinstance(prof, dict) and isinstance(prof.get("network"), dict):
                yield ("permissions", name, "network"), prof["network"]
    feats = data.get("features")
    if isinstance(feats, dict) and isinstance(feats.get("network_proxy"), dict):
        yield ("features", "network_proxy"), feats["network_proxy"]


def proxy_enabled(data: dict) -> bool:
    """Does this config start the network proxy ([features] network_proxy)?"""
    feats = data.get("features")
    if not isinstance(feats, dict):
        return False
    np = feats.get("network_proxy")
    if isinstance(np, bool):
        return np
    if isinstance(np, dict):
        return np.get("enabled", True) is not False
    return False


def home_like(path: str) -> bool:
    """Paths that *are* a home directory (or the parent of all homes)."""
    p = path.rstrip("/\\") or "/"
    if p in ("~", "$HOME", "${HOME}", "%USERPROFILE%", "/home", "/Users", "/root"):
        return True
    parts = [x for x in p.replace("\\", "/").split("/") if x]
    if p.startswith("/") and len(parts) == 2 and parts[0] in ("home", "Users"):
        return True
    if len(parts) == 3 and parts[0].endswith(":") and parts[1].lower() == "users":
        return True  # C:\Users\<u>
    home = os.path.expanduser("~").rstrip("/")
    return bool(home) and home != "/" and p == home


SYSTEM_DIRS = {"/", "/etc", "/usr", "/usr/local", "/bin", "/sbin", "/lib", "/var", "/opt", "/boot",
               "/dev", "/proc", "/sys", "/tmp", "/private", "/System", "/Library", "/Applications",
               "/Volumes", "/srv", "/mnt", "/media"}


def system_dir(path: str) -> bool:
    p = path.rstrip("/\\") or "/"
    if p in SYSTEM_DIRS:
        return True
    win = p.replace("/", "\\").rstrip("\\").lower()
    return win in ("c:", "c:\\windows", "c:\\program files", "c:\\program files (x86)",
                   "c:\\programdata", "c:\\users")


def root_like(path: str) -> bool:
    p = path.strip()
    return p in ("/", "\\", ":root") or p.rstrip("\\/").lower() in ("c:",)
