"""Random Codex set-ups for the live differential test, written in the oracle case layout.

A scenario is ``{"files": {relpath: toml text}, "args": args.json dict, "about": str}``:
system / user / project / profile config, ``requirements.toml``, ``managed_config.toml``,
``-c`` overrides, flags and project trust, drawn from realistic value pools -- including
values Codex rejects (deprecated aliases, requirement lists without ``read-only``, unknown
variants, permission tables without ``default_permissions``) so fatal paths are exercised.
"""

from __future__ import annotations

import json
import os

import tomlkit
from hypothesis import strategies as st

APPROVALS = ["untrusted", "on-failure", "on-request", "never"]
REVIEWERS = ["user", "auto_review", "guardian_subagent"]
SANDBOXES = ["read-only", "workspace-write", "danger-full-access"]
BUILTIN_PROFILES = [":read-only", ":workspace", ":danger-full-access"]
WEB_SEARCH = ["disabled", "cached", "live", "indexed"]
GRANULAR_FIELDS = ["sandbox_approval", "rules", "skill_approval", "request_permissions", "mcp_elicitations"]


def _maybe(strategy, p_none: int = 2):
    """``strategy`` or None (None ``p_none`` times as likely as a value)."""
    return st.one_of(*([st.none()] * p_none), strategy)


granular = st.fixed_dictionaries({f: st.booleans() for f in GRANULAR_FIELDS}).map(lambda g: {"granular": g})
approval_value = st.one_of(st.sampled_from(APPROVALS), granular)


@st.composite
def config_layer(draw, custom_profile: bool = False) -> dict:
    """One config.toml: each policy key present with a modest probability."""
    cfg: dict = {}
    for key, strat in (("approval_policy", approval_value),
                       ("approvals_reviewer", st.sampled_from(REVIEWERS)),
                       ("sandbox_mode", st.sampled_from(SANDBOXES)),
                       ("web_search", st.sampled_from(WEB_SEARCH))):
        value = draw(_maybe(strat, 3))
        if value is not None:
            cfg[key] = value
    names = list(BUILTIN_PROFILES)
    if custom_profile and draw(st.integers(0, 5)) == 0:
        prof: dict = {"extends": draw(st.sampled_from([":read-only", ":workspace"]))}
        if draw(st.booleans()):
            prof["network"] = {"enabled": draw(st.booleans())}
        cfg["permissions"] = {"mine": prof}
        names.append("mine")
        if draw(st.integers(0, 3)) == 0:  # tables but no default_permissions: fatal
            return cfg
        cfg["default_permissions"] = "mine"
    elif draw(st.integers(0, 4)) == 0:
        cfg["default_permissions"] = draw(st.sampled_from(names))
    if draw(st.integers(0, 3)) == 0:
        cfg["sandbox_workspace_write"] = {"network_access": draw(st.booleans())}
    return cfg


def _sublist(pool: list[str]):
    return st.lists(st.sampled_from(pool), unique=True, max_size=len(pool)).map(
        lambda xs: [p for p in pool if p in xs])  # keep the pool's order


@st.composite
def requirements(draw) -> dict:
    req: dict = {}
    if draw(st.booleans()):
        vals = draw(_sublist(APPROVALS))
        if draw(st.integers(0, 9)) == 0:
            vals = vals + ["sometimes"]  # unknown variant: fatal
        req["allowed_approval_policies"] = vals
    if draw(st.integers(0, 2)) == 0:
        req["allowed_approvals_reviewers"] = draw(_sublist(["user", "auto_review"]))
    if draw(st.booleans()):
        modes = draw(_sublist(SANDBOXES[1:]))
        if draw(st.integers(0, 7)) != 0:  # mostly valid: read-only must be allowed
            modes = ["read-only"] + modes
        req["allowed_sandbox_modes"] = modes
    if draw(st.integers(0, 2)) == 0:
        req["allowed_web_search_modes"] = draw(_sublist(WEB_SEARCH))
    if draw(st.integers(0, 5)) == 0:
        allowed = {":read-only": True, ":workspace": draw(st.booleans())}
        req["allowed_permission_profiles"] = allowed
        if draw(st.integers(0, 3)) != 0:
            req["default_permissions"] = draw(st.sampled_from([k for k, v in allowed.items() if v]))
    elif draw(st.integers(0, 15)) == 0:
        req["default_permissions"] = ":read-only"  # without allowed_permission_profiles: fatal
    if draw(st.integers(0, 5)) == 0:  # managed network policy, under either of its names
        net: dict = {"enabled": draw(st.booleans())}
        if draw(st.booleans()):
            net["domains"] = {"example.com": "allow"}
        req[draw(st.sampled_from(["experimental_network", "network_proxy"]))] = net
    if draw(st.integers(0, 6)) == 0:  # feature pins, under either name; sometimes unknown
        pins = {draw(st.sampled_from(["shell_snapshot", "web_search_request", "no_such_feature"])): draw(st.booleans())}
        req[draw(st.sampled_from(["features", "feature_requirements"]))] = pins
    return req


def _toml_value(v) -> str:
    return tomlkit.dumps({"v": v}).split("=", 1)[1].strip()


@st.composite
def overrides(draw) -> list[str]:
    pool = st.one_of(
        st.sampled_from(APPROVALS).map(lambda v: f"approval_policy={_toml_value(v)}"),
        st.sampled_from(REVIEWERS).map(lambda v: f"approvals_reviewer={_toml_value(v)}"),
        st.sampled_from(SANDBOXES).map(lambda v: f"sandbox_mode={_toml_value(v)}"),
        st.sampled_from(BUILTIN_PROFILES).map(lambda v: f"default_permissions={_toml_value(v)}"),
        st.booleans().map(lambda v: f"sandbox_workspace_write.network_access={_toml_value(v)}"),
        st.sampled_from(WEB_SEARCH).map(lambda v: f"web_search={_toml_value(v)}"),
    )
    return draw(st.lists(pool, max_size=3))


@st.composite
def flags(draw) -> list[str]:
    out: list[str] = []
    if draw(st.integers(0, 3)) == 0:
        out += ["--sandbox", draw(st.sampled_from(SANDBOXES))]
    if draw(st.integers(0, 3)) == 0:
        out += ["-a", draw(st.sampled_from(APPROVALS))]
    if draw(st.integers(0, 5)) == 0:
        out += ["--search"]
    if draw(st.integers(0, 9)) == 0:
        out += ["--add-dir", "@PROJECT@/extra"]
    if draw(st.integers(0, 11)) == 0:
        out += ["--dangerously-bypass-approvals-and-sandbox"]
    return out


@st.composite
def scenario(draw) -> dict:
    """A whole machine: files (oracle case layout) and args.json."""
    files: dict[str, dict] = {}
    layers = {
        "etc/codex/config.toml": _maybe(config_layer(), 2),
        "etc/codex/requirements.toml": _maybe(requirements(), 1),
        "etc/codex/managed_config.toml": _maybe(config_layer(), 4),
        "home/config.toml": _maybe(config_layer(custom_profile=True), 1),
        "project/.codex/config.toml": _maybe(config_layer(), 2),
    }
    for path, strat in layers.items():
        data = draw(strat)
        if data is not None:
            files[path] = data
    args: dict = {}
    ov = draw(overrides())
    if ov:
        args["overrides"] = ov
    fl = draw(flags())
    if fl:
        args["flags"] = fl
        if "--add-dir" in fl:
            files["project/extra/.keep"] = {}
    trust = draw(st.sampled_from(["trusted", "trusted", "untrusted", None]))
    if trust != "trusted":
        args["trust"] = trust
    if trust is None and draw(st.booleans()):
        args["git"] = True
    if draw(st.integers(0, 6)) == 0:
        args["profile"] = "work"
        files["home/work.config.toml"] = draw(config_layer())
    about = "random: " + ", ".join(sorted(files)) + (" " + json.dumps(args) if args else "")
    return {"files": files, "args": args, "about": about}


def write_case(sc: dict, case_dir: str, extra: dict[str, str] | None = None) -> str:
    """Write a scenario as an oracle case directory (re-runnable by the oracle / casekit)."""
    os.makedirs(os.path.join(case_dir, "home"), exist_ok=True)
    os.makedirs(os.path.join(case_dir, "project"), exist_ok=True)
    for rel, data in sc["files"].items():
        path = os.path.join(case_dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(tomlkit.dumps(data) if rel.endswith(".toml") else "")
    if sc["args"]:
        with open(os.path.join(case_dir, "args.json"), "w", encoding="utf-8") as fh:
            json.dump(sc["args"], fh, indent=2)
    with open(os.path.join(case_dir, "about.txt"), "w", encoding="utf-8") as fh:
        fh.write(sc["about"] + "\n")
    for name, text in (extra or {}).items():
        with open(os.path.join(case_dir, name), "w", encoding="utf-8") as fh:
            fh.write(text)
    return case_dir
