"""Permission profiles (codex-policy.md §8.3, §6.3): undefined, disallowed and broken
profiles, and deny-read entries that cannot match what their author meant."""

from __future__ import annotations

from mdmtool.lint.context import (PROFILE, PROJECT, REQUIREMENTS, STANDALONE, SYSTEM, USER, hit)
from mdmtool.lint.rules import file_rule, profile_filesystems, unit_rule
from mdmtool.lint.rules.util import BUILTIN_PROFILES

CONFIG_LAYERS = (SYSTEM, USER, PROFILE, PROJECT, STANDALONE)


def _defined(unit, subject) -> set[str]:
    names: set[str] = set()
    for f in [unit.one(SYSTEM), subject]:
        if f is not None and isinstance(f.get("permissions"), dict):
            names |= {n for n, v in f.get("permissions").items() if isinstance(v, dict)}
    req = unit.requirements
    if req is not None and isinstance(req.get("permissions"), dict):
        names |= {n for n, v in req.get("permissions").items() if isinstance(v, dict) and n != "filesystem"}
    return names


@unit_rule
def profile_references(unit):
    req = unit.requirements
    allowed = req.get("allowed_permission_profiles") if req is not None else None
    for f in unit.by_role(*CONFIG_LAYERS):
        if not f.ok:
            continue
        defined = _defined(unit, f)
        dp = f.get("default_permissions")
        if isinstance(dp, str) and dp not in BUILTIN_PROFILES and dp not in defined:
            yield hit("MDM601", f, ("default_permissions",),
                      f'default_permissions = "{dp}" names a profile that is not defined '
                      f"([permissions.{dp}] is missing): Codex refuses to start")
        perms = f.get("permissions")
        if isinstance(perms, dict) and perms:
            has_default = any(g is not None and g.get("default_permissions") is not None
                              for g in [unit.one(SYSTEM), f, unit.user_config, req])  # req: case 744
            if not has_default:
                first = next(iter(perms))
                yield hit("MDM604", f, ("permissions", first),
                          "config defines [permissions] profiles but does not set "
                          "default_permissions: Codex refuses to start")
            yield from _extends(f, perms, defined)
            if isinstance(allowed, dict):
                for name in perms:
                    if allowed.get(name) is not True and name != dp:
                        yield hit("MDM602", f, ("permissions", name),
                                  f"profile {name!r} is not allowed by allowed_permission_profiles "
                                  f"in {req.path}: it can never be selected")


def _extends(f, perms: dict, defined: set[str]):
    for name, prof in perms.items():
        if not isinstance(prof, dict) or "extends" not in prof:
            continue
        parent = prof["extends"]
        path = ("permissions", name, "extends")
        if parent == ":danger-full-access":
            yield hit("MDM604", f, path, f"profile {name!r} extends :danger-full-access, which Codex "
                      "refuses (only :read-only, :workspace or a custom profile)")
        elif isinstance(parent, str) and parent not in BUILTIN_PROFILES and parent not in defined:
            yield hit("MDM604", f, path, f"profile {name!r} extends undefined profile {parent!r}: "
                      "Codex refuses to start")
    # cycles
    for name in perms:
        seen, cur = [name], name
        while True:
            nxt = perms.get(cur, {}).get("extends") if isinstance(perms.get(cur), dict) else None
            if not isinstance(nxt, str) or nxt not in perms:
                break
            if nxt in seen:
                if nxt == name:
                    yield hit("MDM604", f, ("permissions", name, "extends"),
                              f"profile {name!r} extends itself through {' -> '.join(seen + [nxt])}: "
                              "Codex refuses to start")
                break
            seen.append(nxt)
            cur = nxt


def _implausible(entry: str, in_requirements: bool) -> tuple[str, str | None] | None:
    """(why, severity override) when a deny-read entry cannot mean what it seems to."""
    if not isinstance(entry, str):
        return None
    e = entry
    if e != e.strip():
        return "has leading or trailing whitespace, which is part of the path", None
    if not e:
        return "is empty", None
    if "$" in e or "%" in e:
        return "uses an environment variable; Codex does not expand variables in paths", None
    if e.startswith("~") and not (e == "~" or e.startswith("~/")):
        return "uses ~user, which Codex does not expand (only ~/)", None
    if "/../" in e or e.endswith("/..") or e.startswith("../"):
        return "contains '..', which Codex rejects or resolves unexpectedly", None
    # globs rooted at / (a fatal session failure) are MDM111, lint/rules/session.py
    if in_requirements and not (e.startswith("/") or e.startswith("~/") or e == "~"
                                or (len(e) > 2 and e[1] == ":")):
        return "is relative; requirements deny_read needs absolute or ~/ paths (Q8)", None
    return None


@file_rule(REQUIREMENTS)
def deny_read_requirements(f):
    dr = f.get("permissions", "filesystem", "deny_read")
    if isinstance(dr, list):
        for i, e in enumerate(dr):
            bad = _implausible(e, True)
            if bad:
                yield hit("MDM603", f, ("permissions", "filesystem", "deny_read", i),
                          f"deny_read entry {e!r} {bad[0]}", severity=bad[1])


@file_rule(*CONFIG_LAYERS)
def deny_read_profiles(f):
    for name, fs in profile_filesystems(f):
        for key, val in fs.items():
            if isinstance(val, str) and val in ("deny", "none") and not key.startswith(":"):
                bad = _implausible(key, False)
                if bad:
                    yield hit("MDM603", f, ("permissions", name, "filesystem", key),
                              f"deny entry {key!r} of profile {name!r} {bad[0]}", severity=bad[1])
            elif isinstance(val, dict):
                for sub, acc in val.items():
                    if acc in ("deny", "none"):
                        bad = _implausible(sub, False)
                        if bad and not bad[0].startswith("is relative"):
                            yield hit("MDM603", f, ("permissions", name, "filesystem", key, sub),
                                      f"deny entry {sub!r} under {key} of profile {name!r} {bad[0]}",
                                      severity=bad[1])
