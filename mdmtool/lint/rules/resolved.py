"""Rules that need the effective policy: requirement fallbacks, refusal to start, feature
pins, and network exposure of the *effective* sandbox.

Precedence is never re-implemented here: each config that Codex would load as the user's
config is resolved by :func:`mdmtool.resolve.resolve` together with the unit's system
files and requirements, in a scratch layout (``/etc/codex`` and ``CODEX_HOME`` copies, an
empty working directory, so project trust plays no part). Results are memoised by the
content of everything that can change them, so a fleet resolves each distinct
combination once: the system files' texts and the subject's data, except plain
``[projects]`` trust entries (per-user, so unique in every fleet, and unable to change
the result when none of them is malformed or covers the scratch directory). A result
whose errors or fallback warnings point into the subject (line:col) is shared only by
subjects with the same text.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field

from mdmtool.lint.context import SYSTEM, hit
from mdmtool.lint.memo import Memo
from mdmtool.lint.rules import unit_rule
from mdmtool.lint.rules.util import network_tables, proxy_enabled
from mdmtool.record import asdict
from mdmtool.requirements import network_table

#: setup key -> Resolved (least recently used ones go first)
_MEMO = Memo(4096)
_SCRATCH: list[str] = []


@dataclass
class Resolved:
    ok: bool
    errors: list[str] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (key, message)
    approval_policy: str | None = None
    sandbox_mode: str | None = None
    network_access: bool | None = None
    permission_profile: str | None = None
    available: bool = True


def _scratch() -> str:
    """This run's scratch directory (created once, removed at exit; forked workers use
    subdirectories of their parent's). In memory when the system offers it: every
    resolver run writes files there, and file creation is slow on a busy disk."""
    if not _SCRATCH:
        shm = "/dev/shm"
        where = shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None
        d = tempfile.mkdtemp(prefix="mdmtool-lint-", dir=where)
        _SCRATCH.append(d)
        atexit.register(shutil.rmtree, d, True)
    return _SCRATCH[0]


def _canonical(value) -> str:
    """JSON that tells apart values JSON alone would not (a TOML date and a string)."""
    return json.dumps(value, sort_keys=True, default=lambda o: {f"${type(o).__name__}": str(o)})


#: the only shapes of a project entry that cannot produce an error or a warning
_PLAIN_ENTRIES = ({}, {"trust_level": "trusted"}, {"trust_level": "untrusted"})


def _projects_part(projects) -> str:
    """What the subject's ``[projects]`` contributes to a resolver result: nothing when
    every entry is plain and none is the scratch directory or above it (trust there would
    change the resolution); otherwise the entries themselves."""
    if projects is None:
        return "plain"  # no entries: the same as plain ones
    if isinstance(projects, dict):
        cwd = os.path.join(_scratch(), f"w{os.getpid()}", "cwd")
        if all(isinstance(k, str) and v in _PLAIN_ENTRIES and not _covers(k, cwd)
               for k, v in projects.items()):
            return "plain"
    return _canonical(projects)


def _covers(path: str, cwd: str) -> bool:
    p = path.rstrip("/") or "/"
    return p == "/" or cwd == p or cwd.startswith(p + "/") or not os.path.isabs(path)


def _key(unit, subject) -> str:
    h = hashlib.blake2b(digest_size=16)
    for f in (unit.one(SYSTEM), unit.requirements, unit.managed):
        h.update(b"|" + (f.sha.encode() if f is not None else b"-"))
    data = subject.data
    h.update(_rest_part(data).encode())
    h.update(b"|" + _projects_part(data.get("projects")).encode())
    return h.hexdigest()


#: (key, id(value)) pairs -> (the values, canonical JSON): subjects that share a parsed
#: head (see mdmtool.lint.context) share its value objects, so the JSON is made once
_REST = Memo(512)


def _rest_part(data: dict) -> str:
    """Canonical JSON of the subject's data without ``[projects]``."""
    items = [(k, v) for k, v in data.items() if k != "projects"]
    ck = tuple((k, id(v)) for k, v in items)
    hit = _REST.hit(ck)
    if hit is not None and all(a is b for (_, a), b in zip(items, hit[0])):
        return hit[1]
    text = _canonical(dict(items))
    _REST.put(ck, (tuple(v for _, v in items), text))
    return text


def resolve_subject(unit, subject) -> Resolved:
    """The effective policy for ``subject`` as the user's config on ``unit``'s machine.

    Results are shared by every unit with the same contents, so they hold placeholders
    for the file names (each unit sees its own); a result that mentions the subject
    itself (a line:col in it) is shared only by subjects with the very same text.
    """
    memo = unit.cache.setdefault("resolved", {})
    if subject.path in memo:
        return memo[subject.path]
    key = _key(unit, subject)
    res = _recall(key)
    if res is None:
        res = _remember(key, _run_resolver(unit, subject, key))
        if _mentions(res, _USER):
            _remember(key + subject.sha, res)
    elif _mentions(res, _USER):
        exact = _recall(key + subject.sha)
        res = exact if exact is not None else _remember(key + subject.sha,
                                                        _run_resolver(unit, subject, key))
    res = _localize(res, unit, subject)
    memo[subject.path] = res
    return res


#: placeholders for the unit's files in memoised resolver messages
_SYSTEM_F, _REQ_F, _MANAGED_F, _USER = "\x00system\x00", "\x00req\x00", "\x00managed\x00", "\x00user\x00"


#: set in fleet workers: results are also shared with the other workers through files in
#: the run's scratch directory (made by the parent), so each setup is resolved about once
SHARED = {"on": False}


def _remember(key: str, res: Resolved) -> Resolved:
    _MEMO.put(key, res)
    if SHARED["on"] and res.available:
        d = os.path.join(_scratch(), "memo")
        tmp = os.path.join(d, f".{key}.{os.getpid()}")
        try:
            os.makedirs(d, exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(asdict(res), fh)
            os.replace(tmp, os.path.join(d, key))
        except OSError:  # sharing only saves time
            pass
    return res


def _recall(key: str) -> Resolved | None:
    res = _MEMO.hit(key)
    if res is None and SHARED["on"]:
        try:
            with open(os.path.join(_scratch(), "memo", key), encoding="utf-8") as fh:
                raw = json.load(fh)
        except (OSError, ValueError):
            return None
        raw["warnings"] = [tuple(w) for w in raw["warnings"]]
        res = Resolved(**raw)
        _MEMO.put(key, res)
    return res


def _mentions(res: Resolved, token: str) -> bool:
    """Does a part of ``res`` the rules report (errors, fallback warnings) name ``token``?"""
    return any(token in e for e in res.errors) or any(
        token in m for _, m in res.warnings if _FALLBACK in m)


def _localize(res: Resolved, unit, subject) -> Resolved:
    """``res`` with the placeholders replaced by this unit's file names."""
    from mdmtool.record import replace
    if not any("\x00" in e for e in res.errors) and not any("\x00" in m for _, m in res.warnings):
        return res
    files = ((_SYSTEM_F, unit.one(SYSTEM)), (_REQ_F, unit.requirements), (_MANAGED_F, unit.managed),
             (_USER, subject))
    pairs = [(tok, f.path) for tok, f in files if f is not None]

    def sub(text: str) -> str:
        if "\x00" in text:
            for tok, path in pairs:
                text = text.replace(tok, path)
        return text

    return replace(res, errors=[sub(e) for e in res.errors],
                   warnings=[(k, sub(m)) for k, m in res.warnings])


def _run_resolver(unit, subject, key: str) -> Resolved:
    try:
        from mdmtool.model import ResolveInputs
        from mdmtool.resolve import resolve
    except ImportError:  # pragma: no cover - resolver room missing
        return Resolved(ok=True, available=False)
    base = os.path.join(_scratch(), f"w{os.getpid()}")
    sysd, home, cwd = (os.path.join(base, n) for n in ("etc-codex", "codex-home", "cwd"))
    for d in (sysd, home, cwd):
        os.makedirs(d, exist_ok=True)
    names: dict[str, str] = {}
    for f, name, token in ((unit.one(SYSTEM), "config.toml", _SYSTEM_F),
                           (unit.requirements, "requirements.toml", _REQ_F),
                           (unit.managed, "managed_config.toml", _MANAGED_F)):
        p = os.path.join(sysd, name)
        if f is not None:
            _write(p, f.text)
            names[p] = token
        elif os.path.exists(p):
            os.unlink(p)
            _WRITTEN.pop(p, None)
    p = os.path.join(home, "config.toml")
    _write(p, subject.text)
    names[p] = _USER
    try:
        eff = resolve(ResolveInputs(system_dir=sysd, codex_home=home, cwd=cwd, machine_checks=False))
    except Exception as exc:  # noqa: BLE001 - MdmError or a resolver bug: report, don't crash
        msg = str(exc)
        for tmp, shown in names.items():
            msg = msg.replace(tmp, shown)
        return Resolved(ok=False, errors=[msg])

    def unmap(text: str) -> str:
        for tmp, shown in names.items():
            text = text.replace(tmp, shown)
        return text.replace(sysd, "/etc/codex").replace(home, "$CODEX_HOME")

    return Resolved(ok=eff.ok, errors=[unmap(e) for e in eff.errors],
                    warnings=[(w.key, unmap(w.message)) for w in eff.warnings],
                    approval_policy=eff.approval_policy, sandbox_mode=eff.sandbox_mode,
                    network_access=eff.network_access, permission_profile=eff.permission_profile)


#: scratch path -> the text it holds: a fleet's setups share most files, and creating a
#: file is the slowest step of a resolver run on a busy disk
_WRITTEN: dict[str, str] = {}


def _write(path: str, text: str) -> None:
    if _WRITTEN.get(path) == text and os.path.exists(path):
        return
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    _WRITTEN[path] = text


#: the warnings reported here (fallbacks); other resolver warnings are not lint findings
_FALLBACK = "disallowed by requirements"

_WARN_RULES = {"approval_policy": ("MDM101", ("approval_policy",)),
               "approvals_reviewer": ("MDM102", ("approvals_reviewer",)),
               "web_search_mode": ("MDM105", ("web_search",)),
               "web_search": ("MDM105", ("web_search",))}


def _effective(res: Resolved, rule: str) -> str:
    if not res.ok:
        return "the required value (once it starts)"
    if rule == "MDM101":
        return f"approval_policy {res.approval_policy!r}"
    if rule in ("MDM103", "MDM104"):
        prof = f", profile {res.permission_profile!r}" if res.permission_profile else ""
        return f"sandbox {res.sandbox_mode!r}{prof}"
    return "the required value"


def _ready(unit) -> bool:
    fs = [unit.one(SYSTEM), unit.requirements, unit.managed]
    return all(f is None or f.ok for f in fs)


#: the display name of the empty user config a machine without one is resolved with
NO_USER_CONFIG = "<no user config.toml>"


def _subjects(unit) -> list:
    """The user configs to resolve. A machine with a system config and no user config runs
    Codex on the system layers alone: it is resolved with an empty user config, and what
    that finds is reported on the system files."""
    subjects = unit.subjects()
    if subjects or unit.one(SYSTEM) is None:
        return subjects
    from mdmtool.lint.context import USER, LintFile
    return [LintFile(NO_USER_CONFIG, USER, "")]


def _setter(unit, subject, key: str):
    """The file whose value of top-level ``key`` Codex uses: the subject's, else the system
    config's (a managed_config.toml value is its own requirement: rules of its own)."""
    if key in subject.data:
        return subject
    system, managed = unit.one(SYSTEM), unit.managed
    if managed is not None and managed.ok and key in managed.data:
        return None
    if system is not None and system.ok and key in system.data:
        return system
    return None


@unit_rule
def fallbacks_and_refusal(unit):
    if not _ready(unit):
        return
    for subject in _subjects(unit):
        if not subject.ok:
            continue
        res = resolve_subject(unit, subject)
        if not res.available:
            return
        for wkey, message in res.warnings:
            if _FALLBACK not in message:
                continue
            if wkey in _WARN_RULES:
                rule, path = _WARN_RULES[wkey]
            elif wkey == "permission_profile":
                if "falling back from `" in message:
                    rule, path = "MDM104", ("default_permissions",)
                else:
                    rule = "MDM103"
                    path = ("default_permissions",) if "default_permissions" in subject.data \
                        and "sandbox_mode" not in subject.data else ("sandbox_mode",)
            else:
                continue
            setter = _setter(unit, subject, path[0])
            if setter is None or (setter is not subject and not res.ok):
                continue  # a default, a managed value (requirements.defaults_and_managed), or a
                # system value on a machine where Codex refuses to start (MDM110 says why)
            yield hit(rule, setter, path, f"`{path[0]} = {json.dumps(setter.data[path[0]])}` is "
                      f"disallowed by requirements; Codex runs with {_effective(res, rule)} instead. "
                      f"Codex says: {message}")
        if not res.ok:
            yield from _refusal(unit, subject, res)


def _refusal(unit, subject, res: Resolved):
    # raw rules already explain most refusals at the exact line; MDM110 covers the rest
    from mdmtool.lint.catalog import RULES
    explained = unit.cache.get("fatal_rules_seen", set())
    if any(RULES[r].fatal for r in explained):
        return
    feats = subject.get("features")
    misplaced = isinstance(feats, dict) and any(not isinstance(v, (bool, dict)) for v in feats.values())
    for err in res.errors:
        if misplaced and err.endswith("expected a boolean"):
            continue  # MDM802 names the key written below [features] (cases 642)
        target = subject if subject.path != NO_USER_CONFIG else unit.one(SYSTEM)
        named = re.match(r"([a-z_]+) = ", err)  # `approval_policy = "untrusted" is no longer ...`
        if named:  # the value comes from the layer that set it
            target = _setter(unit, subject, named.group(1)) or target
        for f in (unit.requirements, unit.managed, unit.one(SYSTEM)):
            if f is not None and f.path in err:
                target = f
        from mdmtool.plain import explain
        x = explain(err)
        plain = x.get("explanation") or ""
        at = tuple(x["path"]) if x.get("path") and target.get(*x["path"]) is not None else None
        if plain.startswith("Codex refuses to start with this message"):
            plain = ""
        text = f"Codex refuses to start: {plain} Codex says: {err}" if plain else f"Codex refuses to start: {err}"
        yield hit("MDM110", target, at, text)


@unit_rule
def feature_pins(unit):
    req = unit.requirements
    if req is None or not req.ok:
        return
    pins = req.get("features") or req.get("feature_requirements")
    if not isinstance(pins, dict):
        return
    for f in unit.subjects() + unit.by_role(SYSTEM):
        feats = f.get("features")
        if not isinstance(feats, dict):
            continue
        for name, pinned in pins.items():
            if name in feats and isinstance(pinned, bool) and feats[name] != pinned \
                    and isinstance(feats[name], (bool, dict)):
                yield hit("MDM106", f, ("features", name),
                          f"features.{name} = {json.dumps(feats[name])} is overridden: {req.path} pins "
                          f"it to {json.dumps(pinned)}",
                          fix={"op": "delete", "path": ["features", name]})


def _domain_rules(f) -> bool:
    return any(isinstance(t.get("domains"), dict) and t.get("domains")
               for _, t in network_tables(f.data, f.kind))


@unit_rule
def network_exposure(unit):
    if not _ready(unit):
        return
    req = unit.requirements
    name, en = network_table(req.data) if req is not None and req.ok else (None, None)
    managed_proxy = isinstance(en, dict) and en.get("enabled") is True
    for subject in unit.subjects():
        if not subject.ok:
            continue
        res = resolve_subject(unit, subject)
        if not res.available or not res.ok:
            continue
        layers = [f for f in (unit.one(SYSTEM), subject, unit.managed) if f is not None and f.ok]
        proxy = managed_proxy or any(proxy_enabled(f.data) for f in layers)
        has_rules = any(_domain_rules(f) for f in layers) or (
            isinstance(en, dict) and bool(en.get("domains") or en.get("allowed_domains")))
        net_key = _network_key(subject)
        if res.network_access and res.sandbox_mode != "danger-full-access":
            if not proxy and not has_rules:
                yield hit("MDM308", subject, net_key,
                          "command network access is on and no proxy filters it: commands can reach "
                          "any host directly")
            elif not proxy and has_rules:
                yield hit("MDM406", subject, net_key,
                          "domain rules are configured but the network proxy is not started, so "
                          "commands reach every host directly and the rules are NOT enforced")
            if res.approval_policy == "never" and res.sandbox_mode == "workspace-write":
                yield hit("MDM309", subject, ("approval_policy",) if "approval_policy" in subject.data
                          else net_key,
                          'effective approval_policy "never" + workspace-write + network on: '
                          "commands write and reach the network without any prompt")
            if isinstance(en, dict) and en.get("enabled") is False:
                yield hit("MDM405", req, (name, "enabled"),
                          f"[{name}] enabled = false, yet {subject.path} turns command "
                          "network on: traffic goes out unfiltered")
        elif isinstance(en, dict) and (en.get("enabled") is True or en.get("domains")) \
                and res.network_access is False:
            yield hit("MDM405", req, (name,),
                      f"[{name}] has no effect for {subject.path}: its effective sandbox "
                      f"({res.sandbox_mode}) keeps command network off")


def _network_key(f) -> tuple:
    if f.get("sandbox_workspace_write", "network_access") is True:
        return ("sandbox_workspace_write", "network_access")
    perms = f.get("permissions")
    dp = f.get("default_permissions")
    if isinstance(perms, dict) and isinstance(perms.get(dp), dict):
        if isinstance(perms[dp].get("network"), dict):
            return ("permissions", dp, "network", "enabled")
    return ("sandbox_mode",) if "sandbox_mode" in f.data else ()
