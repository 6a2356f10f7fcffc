"""What makes a Codex setup wider (less safe) or narrower: the classification table.

:data:`RULES` maps key paths (``*`` = any one key) to a small rule object per document
kind: ``config`` (config.toml, managed_config.toml, profile files), ``requirements`` and
``effective`` (``mdmtool effective --format json``). A rule turns an old and a new value
into :class:`Effect` objects (widening / narrowing / neutral, with the reason). The
first matching row wins, so specific rows come first. Keys without a row are neutral
in config files; in requirements files removing anything is a widening (a restriction
is gone) and adding one a narrowing.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from typing import Any

WIDENING = "widening"
NARROWING = "narrowing"
NEUTRAL = "neutral"
CLASSES = (WIDENING, NARROWING, NEUTRAL)

CONFIG = "config"
REQUIREMENTS = "requirements"
EFFECTIVE = "effective"
KINDS = (CONFIG, REQUIREMENTS, EFFECTIVE)


class _Missing:
    def __repr__(self) -> str:
        return "(unset)"

    def __bool__(self) -> bool:
        return False


#: a key that is not present on one side of a diff
MISSING: Any = _Missing()


@dataclass(frozen=True)
class Effect:
    """One posture consequence of a change, with the reason shown to the user."""

    classification: str
    reason: str


def show(value: Any) -> str:
    """A value as the user wrote it (TOML/JSON-ish), ``(unset)`` for a missing key."""
    if value is MISSING or value is None:
        return "(unset)"
    if isinstance(value, str):
        return json.dumps(value)
    return json.dumps(value, sort_keys=True, default=str)


def worst(effects: list[Effect]) -> str:
    """The change's class: any widening wins, then narrowing, else neutral."""
    classes = {e.classification for e in effects}
    for c in CLASSES:
        if c in classes:
            return c
    return NEUTRAL


# ----------------------------------------------------------------------------- orders
# Each order lists values from safest to widest; equal ranks share a number.

APPROVAL = {"untrusted": 0, "on-request": 1, "on-failure": 1, "granular": 1, "never": 2}
REVIEWER = {"auto_review": 0, "guardian_subagent": 0, "user": 1}  # user = a human clicks yes
SANDBOX = {"read-only": 0, "workspace-write": 1, "external-sandbox": 1, "danger-full-access": 2}
PROFILE = {":read-only": 0, ":workspace": 1, ":danger-full-access": 2}
WEB_SEARCH = {"disabled": 0, "cached": 1, "indexed": 2, "live": 3}
INHERIT = {"none": 0, "core": 1, "all": 2}
NET_MODE = {"limited": 0, "full": 1}
WIN_SANDBOX = {"elevated": 0, "unelevated": 1}
TRUST = {"untrusted": 0, "trusted": 1}
ACCESS = {"deny": 0, "none": 0, "read": 2, "write": 3}  # absent entry (inherit) ranks 1
ALLOW_DENY = {"deny": 0, "allow": 2}  # absent entry ranks 1: a deny outranks allows
ENV_FILTER = {"exclude": 0, "include": 2}
BOOL_ALLOW = {False: 0, True: 1}

ALIASES = {"on-failure": "on-request", "guardian_subagent": "auto_review", "none": "deny"}

#: what a value means when it appears on the wide side of a change
NOTES = {
    "never": "commands run without asking",
    "danger-full-access": "no sandbox at all",
    ":danger-full-access": "no sandbox at all",
    "workspace-write": "commands may write the workspace",
    "live": "live web access",
    "user": "approval requests go to the user instead of the automatic reviewer",
    "trusted": "project-local config, hooks and exec policies now load",
    "full": "all network methods allowed",
    "all": "every environment variable is passed to commands",
    "unelevated": "weaker Windows sandbox",
}

#: features that are safety mechanisms rather than capabilities
SAFETY_FEATURES = {"network_proxy"}


def _canon(value: Any) -> Any:
    if isinstance(value, str):
        return ALIASES.get(value, value)
    return value


def _label(value: Any) -> str:
    if isinstance(value, dict) and "granular" in value:
        return "granular"
    return show(value)


class Rule:
    """Base rule. ``claims`` says whether this rule judges the pair or the diff descends."""

    handles_dict = False

    def claims(self, old: Any, new: Any) -> bool:
        if self.handles_dict:
            return True
        return not isinstance(old, dict) and not isinstance(new, dict)

    def effects(self, old: Any, new: Any, ctx: "Ctx") -> list[Effect]:
        raise NotImplementedError


@dataclass
class Ctx:
    """Where a change sits: the document kind and the key path (for messages)."""

    kind: str
    path: tuple

    @property
    def key(self) -> str:
        return dotted(self.path)


def dotted(path: tuple | list) -> str:
    out = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif part and all(c.isalnum() or c in "_-" for c in str(part)):
            out.append(("." if out else "") + str(part))
        else:
            out.append(("." if out else "") + json.dumps(str(part)))
    return "".join(out)


def _generic_requirement(old: Any, new: Any, ctx: Ctx) -> list[Effect]:
    if new is MISSING:
        return [Effect(WIDENING, f"requirement `{ctx.key}` removed: it no longer constrains users")]
    if old is MISSING:
        return [Effect(NARROWING, f"requirement `{ctx.key}` added")]
    return [Effect(NEUTRAL, f"requirement `{ctx.key}` changed; no posture rule, review it")]


class Neutral(Rule):
    handles_dict = True

    def __init__(self, reason: str):
        self.reason = reason

    def effects(self, old, new, ctx):
        return [Effect(NEUTRAL, self.reason)]


class Ranked(Rule):
    """A value on a safety scale (``order``: safest first). ``default`` stands for unset."""

    def __init__(self, what: str, order: dict, default: Any = MISSING, *, handles_dict=False):
        self.what, self.order, self.default = what, order, default
        self.handles_dict = handles_dict

    def _rank(self, value: Any):
        if isinstance(value, dict) and "granular" in value and "granular" in self.order:
            return self.order["granular"]
        if isinstance(value, (dict, list)):
            return None
        return self.order.get(value)

    def effects(self, old, new, ctx):
        o = self.default if old in (MISSING, None) else old
        n = self.default if new in (MISSING, None) else new
        if o is MISSING or n is MISSING:
            if ctx.kind == REQUIREMENTS:
                return _generic_requirement(old, new, ctx)
            return [Effect(NEUTRAL, f"{self.what} {'set' if o is MISSING else 'unset'}; "
                            "the outcome depends on other settings")]
        ro, rn = self._rank(o), self._rank(n)
        o_txt = _label(o) + (" (unset: default)" if old in (MISSING, None) else "")
        n_txt = _label(n) + (" (unset: default)" if new in (MISSING, None) else "")
        if ro is None or rn is None:
            return [Effect(NEUTRAL, f"{self.what} {o_txt} -> {n_txt}: not a known value, review it")]
        if rn > ro:
            note = NOTES.get(_canon(n))
            return [Effect(WIDENING, f"{self.what} {o_txt} -> {n_txt}"
                           + (f": {note}" if note else ": less safe"))]
        if rn < ro:
            return [Effect(NARROWING, f"{self.what} {o_txt} -> {n_txt}: safer")]
        return [Effect(NEUTRAL, f"{self.what} {o_txt} -> {n_txt}: same level")]


class Flag(Rule):
    """A boolean where ``unsafe`` is the less safe value; ``default`` stands for unset."""

    def __init__(self, what: str, unsafe: bool = True, default: Any = MISSING):
        self.what, self.unsafe, self.default = what, unsafe, default

    def effects(self, old, new, ctx):
        o = self.default if old is MISSING else old
        n = self.default if new is MISSING else new
        if not isinstance(o, bool) or not isinstance(n, bool):
            if ctx.kind == REQUIREMENTS and (old is MISSING or new is MISSING):
                return _generic_requirement(old, new, ctx)
            return [Effect(NEUTRAL, f"{self.what}: {show(old)} -> {show(new)}")]
        if o == n:
            return [Effect(NEUTRAL, f"{self.what} unchanged in effect ({show(n)} is the default)")]
        if n == self.unsafe:
            return [Effect(WIDENING, f"{self.what} turned {'on' if n else 'off'}: less safe")]
        return [Effect(NARROWING, f"{self.what} turned {'on' if n else 'off'}: safer")]


def _as_list(value: Any) -> list:
    if value is MISSING or value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


class AllowList(Rule):
    """A requirements allow-list: unset allows everything; entries added widen."""

    def __init__(self, what: str, order: dict, fallback: str | None, always: tuple = ()):
        self.what, self.order, self.fallback, self.always = what, order, fallback, always

    def claims(self, old, new):
        return True

    def _norm(self, value):
        out = []
        for v in _as_list(value) + list(self.always):
            v = _canon(v)
            if isinstance(v, dict) and "granular" in v:
                v = "granular"
            if isinstance(v, (dict, list)):  # not a mode: an unknown value, compared as text
                v = _key(v)
            if v not in out:
                out.append(v)
        return out

    def _fallback(self, values: list):
        if not values:
            return None
        if self.fallback == "first":
            return values[0]
        if self.fallback == "web":
            for cand in ("cached", "indexed", "live", "disabled"):
                if cand in values:
                    return cand
        return None

    def effects(self, old, new, ctx):
        if old is MISSING and new is MISSING:
            return []
        if new is MISSING:
            return [Effect(WIDENING, f"{ctx.key} removed: any {self.what} is allowed again")]
        o, n = self._norm(old), self._norm(new)
        if old is MISSING:
            every = set(self.order) - set(ALIASES)
            if every <= set(n):
                return [Effect(NEUTRAL, f"{ctx.key} added but allows every {self.what}")]
            return [Effect(NARROWING, f"{ctx.key} added: only {', '.join(map(str, n))} allowed")]
        out: list[Effect] = []
        floor = min((self.order.get(v, 99) for v in o), default=99)
        for v in n:
            if v not in o:
                rank = self.order.get(v)
                if rank is None:
                    out.append(Effect(NEUTRAL, f"{self.what} {show(v)} now allowed (unknown value)"))
                elif rank > floor or not o:
                    note = NOTES.get(v)
                    out.append(Effect(WIDENING, f"new allowed {self.what} {show(v)}"
                                      + (f": {note}" if note else "")))
                else:
                    out.append(Effect(NEUTRAL, f"{self.what} {show(v)} now allowed (safer than "
                                      "everything already allowed)"))
        for v in o:
            if v not in n:
                out.append(Effect(NARROWING, f"{self.what} {show(v)} no longer allowed"))
        fo, fn = self._fallback(o), self._fallback(n)
        if fo != fn and fo is not None and fn is not None:
            ro, rn = self.order.get(fo), self.order.get(fn)
            if ro is not None and rn is not None and rn != ro:
                cls = WIDENING if rn > ro else NARROWING
                out.append(Effect(cls, f"fallback {self.what} for disallowed values "
                                  f"{show(fo)} -> {show(fn)}"))
            else:
                out.append(Effect(NEUTRAL, f"fallback {self.what} {show(fo)} -> {show(fn)}"))
        if not out:
            out.append(Effect(NEUTRAL, f"{ctx.key}: same values, order only"))
        return out


# ----------------------------------------------------------------------------- domains

def _norm_host(p: str) -> str:
    p = p.strip().lower().rstrip(".")
    if ":" in p and not p.startswith("["):
        p = p.rsplit(":", 1)[0] if p.rsplit(":", 1)[1].isdigit() else p
    return p


def domain_covers(wide: str, narrow: str) -> bool:
    """Does domain pattern ``wide`` match every host ``narrow`` matches (Codex semantics:
    ``*.d`` any depth of subdomains of d, ``**.d`` d and its subdomains, ``*`` all)?"""
    w, n = _norm_host(wide), _norm_host(narrow)
    if w == n or w == "*":
        return True
    if n == "*":
        return False

    def split(p):
        if p.startswith("**."):
            return "apex+sub", p[3:]
        if p.startswith("*."):
            return "sub", p[2:]
        return "exact", p

    wk, wd = split(w)
    nk, nd = split(n)
    if "*" in wd or "?" in wd or "*" in nd or "?" in nd:
        return nk == "exact" and fnmatch.fnmatchcase(nd, w)
    sub_of = nd.endswith("." + wd)
    if wk == "sub":
        return sub_of or (nk == "sub" and nd == wd)
    if wk == "apex+sub":
        return sub_of or nd == wd
    return False


def _broader_note(added: str, removed: list[str]) -> str:
    covered = [r for r in removed if r != added and domain_covers(added, r)]
    if covered:
        return f": broader domain pattern, covers {', '.join(show(c) for c in covered)}"
    return ""


def _item(v: Any) -> str:
    if isinstance(v, dict) and isinstance(v.get("message"), str):
        return show(v["message"].strip().splitlines()[0] if v["message"].strip() else "")
    return show(v)


class Entries(Rule):
    """A list of entries: ``more_is`` "wider" (writable roots, allowed domains) or
    "narrower" (deny rules). ``unset_is_unrestricted`` for include-only lists."""

    def __init__(self, what: str, more_is: str = "wider", *, domains: bool = False,
                 unset_is_unrestricted: bool = False):
        self.what, self.more_is, self.domains = what, more_is, domains
        self.unset_unrestricted = unset_is_unrestricted

    def claims(self, old, new):
        return True

    def effects(self, old, new, ctx):
        if self.unset_unrestricted and (old is MISSING) != (new is MISSING):
            if new is MISSING:
                return [Effect(WIDENING, f"{ctx.key} removed: no longer limited to listed {self.what}s")]
            return [Effect(NARROWING, f"{ctx.key} added: only listed {self.what}s")]
        o, n = _as_list(old), _as_list(new)
        ok, nk = [_key(v) for v in o], [_key(v) for v in n]
        add_cls, rem_cls = {"wider": (WIDENING, NARROWING), "narrower": (NARROWING, WIDENING),
                            "neutral": (NEUTRAL, NEUTRAL)}[self.more_is]
        removed = [v for v, k in zip(o, ok) if k not in nk]
        out = []
        for v, k in zip(n, nk):
            if k not in ok:
                note = _broader_note(v, removed) if self.domains and isinstance(v, str) else ""
                out.append(Effect(add_cls, f"{self.what} {_item(v)} added{note}"))
        added = [v for v, k in zip(n, nk) if k not in ok]
        for v in removed:
            wider = [a for a in added if isinstance(a, str) and isinstance(v, str)
                     and a != v and domain_covers(a, v)] if self.domains else []
            if wider and self.more_is == "wider":
                out.append(Effect(NEUTRAL, f"{self.what} {show(v)} removed (covered by broader "
                                  f"{show(wider[0])})"))
            else:
                out.append(Effect(rem_cls, f"{self.what} {_item(v)} removed"))
        if not out:
            out.append(Effect(NEUTRAL, f"{ctx.key}: same entries, order only"))
        return out


class EntryMap(Rule):
    """A table ``entry -> value`` (domains, filesystem access, allowed profiles), judged
    entry by entry on ``order``; an absent entry ranks ``absent``."""

    def __init__(self, what: str, order: dict, absent: int = 1, *, domains: bool = False,
                 unset_is_unrestricted: bool = False):
        self.what, self.order, self.absent, self.domains = what, order, absent, domains
        self.unset_unrestricted = unset_is_unrestricted

    handles_dict = True

    def _rank(self, value):
        """The rank of an entry's value; None for unknown ones (also tables and arrays)."""
        v = _canon(value)
        return self.order.get(v) if isinstance(v, (str, int, float, bool)) else None

    def effects(self, old, new, ctx):
        if self.unset_unrestricted and new is MISSING and old is not MISSING:
            return [Effect(WIDENING, f"{ctx.key} removed: every {self.what} is allowed again")]
        if self.unset_unrestricted and old is MISSING and new is not MISSING:
            return [Effect(NARROWING, f"{ctx.key} added: only listed {self.what}s allowed")]
        o = old if isinstance(old, dict) else {}
        n = new if isinstance(new, dict) else {}
        if not isinstance(old, (dict, _Missing)) or not isinstance(new, (dict, _Missing)):
            return [Effect(NEUTRAL, f"{ctx.key}: {show(old)} -> {show(new)}, review it")]
        top = max(self.order.values())
        removed_wide = [k for k, v in o.items() if k not in n and self._rank(v) == top]
        added_wide = [k for k, v in n.items() if k not in o and self._rank(v) == top]
        out = []
        for k in list(o) + [k for k in n if k not in o]:
            ov, nv = o.get(k, MISSING), n.get(k, MISSING)
            if _key(ov) == _key(nv):
                continue
            if isinstance(ov, dict) or isinstance(nv, dict):
                out.append(Effect(NEUTRAL, f"{self.what} {show(k)}: nested table changed, review it"))
                continue
            ro = self.absent if ov is MISSING else self._rank(ov)
            rn = self.absent if nv is MISSING else self._rank(nv)
            if ov is MISSING:
                desc = f"{self.what} {show(k)} = {show(nv)} added"
            elif nv is MISSING:
                desc = f"{self.what} {show(k)} = {show(ov)} removed"
            else:
                desc = f"{self.what} {show(k)}: {show(ov)} -> {show(nv)}"
            wider = [a for a in added_wide if a != k and domain_covers(a, k)] \
                if self.domains and nv is MISSING and ro == top else []
            if wider:
                out.append(Effect(NEUTRAL, f"{desc} (covered by broader {show(wider[0])})"))
            elif ro is None or rn is None:
                out.append(Effect(NEUTRAL, f"{desc} (unknown value)"))
            elif rn > ro:
                note = ""
                if self.domains and ov is MISSING:
                    note = _broader_note(k, removed_wide)
                elif nv is MISSING and ro == 0:
                    note = ": a deny rule is gone"
                out.append(Effect(WIDENING, desc + (note or ": less safe")))
            elif rn < ro:
                out.append(Effect(NARROWING, desc + ": safer"))
            else:
                out.append(Effect(NEUTRAL, desc))
        return out or [Effect(NEUTRAL, f"{ctx.key}: no entry changed")]


class EntryTable(Rule):
    """A table of named entries (MCP servers, allowed sources): adding one is ``added``;
    changes inside an existing entry descend to finer rules."""

    def __init__(self, what: str, added: str = WIDENING):
        self.what, self.added = what, added

    def claims(self, old, new):
        return old is MISSING or new is MISSING or not isinstance(old, dict) or not isinstance(new, dict)

    def effects(self, old, new, ctx):
        name = show(ctx.path[-1])
        removed = NARROWING if self.added == WIDENING else WIDENING
        if old is MISSING:
            return [Effect(self.added, f"{self.what} {name} added")]
        if new is MISSING:
            return [Effect(removed, f"{self.what} {name} removed")]
        return [Effect(NEUTRAL, f"{self.what} {name} replaced, review it")]


class RequirementTable(Rule):
    """A requirements table whose presence is itself a restriction (e.g. ``[mcp_servers]``:
    present-but-empty disables every server; absent allows all)."""

    def __init__(self, what: str):
        self.what = what

    def claims(self, old, new):
        return old is MISSING or new is MISSING

    def effects(self, old, new, ctx):
        if new is MISSING:
            return [Effect(WIDENING, f"{self.what} removed: no longer restricted")]
        return [Effect(NARROWING, f"{self.what} added")]


class FeaturePin(Rule):
    """A requirements ``[features]`` pin: removing it frees users; values follow capability."""

    def effects(self, old, new, ctx):
        name = ctx.path[-1]
        if new is MISSING:
            return [Effect(WIDENING, f"feature pin {name} removed: users may change it")]
        if old is MISSING:
            return [Effect(NARROWING, f"feature pin {name} = {show(new)} added")]
        return Feature().effects(old, new, ctx)


class Feature(Rule):
    """A feature value: turning a capability on widens; a safety feature inverts it."""

    def effects(self, old, new, ctx):
        name = ctx.path[-1]
        if not isinstance(old, bool) or not isinstance(new, bool):
            return [Effect(NEUTRAL, f"feature {name}: {show(old)} -> {show(new)}")]
        unsafe = name not in SAFETY_FEATURES
        if new == unsafe:
            return [Effect(WIDENING, f"feature {name} turned {'on' if new else 'off'}: less safe")]
        return [Effect(NARROWING, f"feature {name} turned {'on' if new else 'off'}: safer")]


_MATCH_LOOSENESS = {"exact": 0, "prefix": 1, "regex": 2}


def _looseness(identity: Any) -> int | None:
    if isinstance(identity, str):
        return 0
    if isinstance(identity, dict):
        ranks = []
        for part in ("command", "url"):
            v = identity.get(part)
            if isinstance(v, str):
                ranks.append(0)
            elif isinstance(v, dict):
                if "match" in v:
                    ranks.append(_MATCH_LOOSENESS.get(v["match"], 0))
                for arg in v.get("args", []) or []:
                    if isinstance(arg, dict):
                        ranks.append(_MATCH_LOOSENESS.get(arg.get("match"), 0))
                if "executable" in v and "args" not in v:
                    ranks.append(1)  # executable only: any arguments
        return max(ranks) if ranks else None
    return None


class McpIdentity(Rule):
    handles_dict = True

    def effects(self, old, new, ctx):
        if old is MISSING or new is MISSING:
            return _generic_requirement(old, new, ctx)
        lo, ln = _looseness(old), _looseness(new)
        if lo is not None and ln is not None and ln > lo:
            return [Effect(WIDENING, "MCP server identity matcher is looser "
                           f"({show(old)} -> {show(new)})")]
        if lo is not None and ln is not None and ln < lo:
            return [Effect(NARROWING, "MCP server identity matcher is stricter")]
        return [Effect(NEUTRAL, "MCP server identity changed: a different server is allowed, review it")]


class PrefixRules(Rule):
    """``rules.prefix_rules``: removing a rule widens; forbidden -> prompt widens."""

    DECISION = {"forbidden": 0, "prompt": 1, "prompt-user": 1}

    def claims(self, old, new):
        return True

    def effects(self, old, new, ctx):
        def index(rules):
            out = {}
            for r in _as_list(rules):
                if isinstance(r, dict):
                    out[_key(r.get("pattern"))] = r
            return out
        o, n = index(old), index(new)
        out = []
        for k, r in n.items():
            if k not in o:
                out.append(Effect(NARROWING, f"rule {k} -> {r.get('decision')} added"))
            else:
                do, dn = self.DECISION.get(o[k].get("decision")), self.DECISION.get(r.get("decision"))
                if do is not None and dn is not None and dn > do:
                    out.append(Effect(WIDENING, f"rule {k}: {o[k].get('decision')} -> "
                                      f"{r.get('decision')}"))
                elif do is not None and dn is not None and dn < do:
                    out.append(Effect(NARROWING, f"rule {k}: {o[k].get('decision')} -> "
                                      f"{r.get('decision')}"))
                elif _key(o[k]) != _key(r):
                    out.append(Effect(NEUTRAL, f"rule {k}: justification changed"))
        for k, r in o.items():
            if k not in n:
                out.append(Effect(WIDENING, f"{r.get('decision')} rule {k} removed"))
        return out or [Effect(NEUTRAL, "prefix rules reordered")]


class TrustEntry(Ranked):
    """``projects.<path>.trust_level``; unlisted behaves like untrusted (read-only)."""

    BROAD = {"/", "~", "/home", "/Users", "/root", "/etc", "/usr", "C:\\", "C:/"}

    def __init__(self):
        super().__init__("trust level", TRUST, default="untrusted")

    def effects(self, old, new, ctx):
        out = super().effects(old, new, ctx)
        project = str(ctx.path[1]) if len(ctx.path) > 1 else ""
        if out and out[0].classification == WIDENING and project.rstrip("/\\") in (
                {b.rstrip("/\\") for b in self.BROAD} | {""}):
            out[0] = Effect(WIDENING, out[0].reason + f" (trusts a system-wide folder {project})")
        return out


# ----------------------------------------------------------------------------- the table

C, R, E = {CONFIG}, {REQUIREMENTS}, {EFFECTIVE}
CE, CR = {CONFIG, EFFECTIVE}, {CONFIG, REQUIREMENTS}

_NET_FLAGS = ("dangerously_allow_non_loopback_proxy", "dangerously_allow_all_unix_sockets",
              "allow_local_binding", "allow_upstream_proxy", "enable_socks5", "enable_socks5_udp")

RULES: list[tuple[set, tuple, Rule]] = [
    # approvals and review
    (CE, ("approval_policy",), Ranked("approval policy", APPROVAL, "on-request", handles_dict=True)),
    (CE, ("approval_policy", "granular", "*"), Flag("granular approval prompts", True, False)),
    (CE, ("approvals_reviewer",), Ranked("approvals reviewer", REVIEWER, "user")),
    (R, ("allowed_approval_policies",), AllowList("approval policy", APPROVAL, "first")),
    (R, ("allowed_approvals_reviewers",), AllowList("approvals reviewer", REVIEWER, "first")),
    (R, ("auto_review", "required_on_models"), Entries("model requiring auto-review", "narrower")),
    # sandbox and permission profiles
    (CE, ("sandbox_mode",), Ranked("sandbox mode", SANDBOX, "workspace-write")),
    (E, ("network_access",), Flag("command network access", True, False)),
    (E, ("permission_profile",), Ranked("permission profile", PROFILE)),
    (C, ("sandbox_workspace_write", "network_access"), Flag("command network access", True, False)),
    (C, ("sandbox_workspace_write", "writable_roots"), Entries("writable root")),
    (C, ("sandbox_workspace_write", "exclude_slash_tmp"), Flag("excluding /tmp", False, False)),
    (C, ("sandbox_workspace_write", "exclude_tmpdir_env_var"), Flag("excluding $TMPDIR", False, False)),
    (R, ("allowed_sandbox_modes",), AllowList("sandbox mode", SANDBOX, None)),
    (R, ("allowed_permission_profiles",), EntryMap("permission profile", BOOL_ALLOW, absent=0,
                                                    unset_is_unrestricted=True)),
    (R, ("windows", "allowed_sandbox_implementations"),
     AllowList("Windows sandbox", WIN_SANDBOX, None)),
    (R, ("permissions", "filesystem", "deny_read"), Entries("deny-read path", "narrower")),
    (CR, ("default_permissions",), Ranked("default permission profile", PROFILE)),
    (CR, ("permissions", "*", "extends"), Ranked("profile parent", PROFILE)),
    (CR, ("permissions", "*", "filesystem"), EntryMap("filesystem entry", ACCESS)),
    (CR, ("permissions", "*", "workspace_roots"), EntryMap("workspace root", BOOL_ALLOW, absent=0)),
    (CR, ("permissions", "*", "network", "enabled"), Flag("profile network access", True, False)),
    (CR, ("permissions", "*", "network", "mode"), Ranked("network mode", NET_MODE)),
    (CR, ("permissions", "*", "network", "domains"), EntryMap("domain", ALLOW_DENY, domains=True)),
    (CR, ("permissions", "*", "network", "unix_sockets"), EntryMap("unix socket", ALLOW_DENY)),
    *[(CR, ("permissions", "*", "network", f), Flag(f, True, False)) for f in _NET_FLAGS],
    (C, ("windows", "sandbox"), Ranked("Windows sandbox", WIN_SANDBOX, "elevated")),
    # network requirements (managed proxy)
    (R, ("experimental_network", "enabled"), Flag("managed network policy", False, False)),
    (R, ("experimental_network", "domains"), EntryMap("domain", ALLOW_DENY, domains=True)),
    (R, ("experimental_network", "allowed_domains"), Entries("allowed domain", domains=True)),
    (R, ("experimental_network", "denied_domains"), Entries("denied domain", "narrower")),
    (R, ("experimental_network", "unix_sockets"), EntryMap("unix socket", ALLOW_DENY)),
    (R, ("experimental_network", "allow_unix_sockets"), Entries("allowed unix socket")),
    (R, ("experimental_network", "managed_allowed_domains_only"),
     Flag("managed allowed domains only", False, False)),
    *[(R, ("experimental_network", f), Flag(f, True, False)) for f in _NET_FLAGS],
    # web search and features
    (CE, ("web_search",), Ranked("web search", WEB_SEARCH, "cached")),
    (R, ("allowed_web_search_modes",),
     AllowList("web search mode", WEB_SEARCH, "web", always=("disabled",))),
    (C, ("features", "web_search_request"), Feature()),
    (C, ("features", "web_search_cached"), Feature()),
    (C, ("features", "web_search"), Feature()),
    (C, ("features", "*"), Neutral("feature flag changed (no posture rule)")),
    (R, ("features", "*"), FeaturePin()),
    (R, ("feature_requirements", "*"), FeaturePin()),
    # MCP servers
    (R, ("mcp_servers",), RequirementTable("MCP server allowlist")),
    (R, ("mcp_servers", "*"), EntryTable("MCP allowlist entry")),
    (R, ("mcp_servers", "*", "identity"), McpIdentity()),
    (R, ("plugins", "*", "mcp_servers", "*"), EntryTable("plugin MCP allowlist entry")),
    (R, ("plugins", "*", "mcp_servers", "*", "identity"), McpIdentity()),
    (C, ("mcp_servers", "*"), EntryTable("MCP server")),
    (C, ("mcp_servers", "*", "enabled"), Flag("MCP server enabled", True, True)),
    (C, ("mcp_servers", "*", "*"), Neutral("MCP server definition changed, review it")),
    # rules, hooks, other requirements
    (R, ("rules", "prefix_rules"), PrefixRules()),
    (R, ("allow_managed_hooks_only",), Flag("managed hooks only", False, False)),
    (R, ("allow_browser_and_computer_use",), Flag("browser and computer use", True, True)),
    (R, ("allow_appshots",), Flag("appshots", True, True)),
    (R, ("allow_remote_control",), Flag("remote control", True, True)),
    (R, ("allow_login_shell",), Flag("login shell", True, True)),
    (R, ("apps", "*", "enabled"), Flag("app enabled", True, True)),
    (R, ("marketplaces", "restrict_to_allowed_sources"), Flag("restrict plugin sources", False, False)),
    (R, ("marketplaces", "allowed_sources", "*"), EntryTable("allowed plugin source")),
    (R, ("models",), Neutral("model defaults (not enforced) changed")),
    (R, ("allowed_permissions",), Neutral("`allowed_permissions` is ignored by Codex 0.169")),
    # config: environment, trust, shell
    (C, ("shell_environment_policy", "inherit"), Ranked("environment inheritance", INHERIT, "all")),
    (C, ("shell_environment_policy", "ignore_default_excludes"),
     Flag("keeping KEY/SECRET/TOKEN variables", True, True)),
    (C, ("shell_environment_policy", "filters"), EntryMap("environment filter", ENV_FILTER)),
    (C, ("shell_environment_policy", "exclude"), Entries("environment exclude pattern", "narrower")),
    (C, ("shell_environment_policy", "include_only"),
     Entries("environment include pattern", unset_is_unrestricted=True)),
    (C, ("projects", "*", "trust_level"), TrustEntry()),
    (C, ("allow_login_shell",), Flag("login shell", True, True)),
    # effective document (mdmtool effective --format json)
    (E, ("approval_granular", "*"), Flag("granular approval prompts", True, False)),
    (E, ("approval_granular",), Neutral("granular approval settings changed")),
    (E, ("writable_roots",), Entries("writable root")),
    (E, ("workspace_roots",), Entries("workspace root")),
    (E, ("features_non_default", "*"), Feature()),
    (E, ("trust",), Ranked("project trust", {**TRUST, "unlisted": 0}, "unlisted")),
    (E, ("configured", "*"), Neutral("requested (pre-requirements) value changed")),
    (E, ("notices",), Neutral("notices changed")),
    (E, ("ok",), Neutral("whether Codex starts changed (see errors)")),
    (E, ("errors",), Entries("start-up error", "neutral")),
    (E, ("warnings",), Entries("start-up warning", "neutral")),
    (E, ("codex_version",), Neutral("modelled Codex version changed")),
]


def _matches(pattern: tuple, path: tuple) -> bool:
    return len(pattern) == len(path) and all(p == "*" or p == k for p, k in zip(pattern, path))


def rule_for(kind: str, path: tuple) -> Rule | None:
    """The first row of :data:`RULES` for this document kind and key path."""
    if kind == EFFECTIVE and path and path[0] == "requirements":
        return rule_for(REQUIREMENTS, tuple(path[1:])) if len(path) > 1 else None
    for kinds, pattern, rule in RULES:
        if kind in kinds and _matches(pattern, path):
            return rule
    return None


def classify(kind: str, path: tuple, old: Any, new: Any) -> list[Effect]:
    """Effects of one change at ``path`` (``MISSING`` for an absent side)."""
    ctx = Ctx(kind, tuple(path))
    rule = rule_for(kind, tuple(path))
    if rule is not None:
        return rule.effects(old, new, ctx) or [Effect(NEUTRAL, "no posture change")]
    if kind == REQUIREMENTS or (kind == EFFECTIVE and path and path[0] == "requirements"):
        sub = Ctx(REQUIREMENTS, tuple(path[1:]) if kind == EFFECTIVE else tuple(path))
        return _generic_requirement(old, new, sub)
    return [Effect(NEUTRAL, "no posture impact")]
