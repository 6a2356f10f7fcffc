"""Discovering Codex's config layers on a machine, in Codex 0.169.0's order.

Lowest to highest: system ``config.toml``, user ``$CODEX_HOME/config.toml``, the ``-p``
profile file, the project ``.codex/config.toml`` chain (root -> cwd, trust-gated),
session flags (``-c``, ``--enable/--disable``), legacy ``managed_config.toml``, MDM.
Problems Codex refuses to start on are collected as fatal errors, not raised: a
machine whose Codex would not start is an answer, not an input error.
"""

from __future__ import annotations

import os
from typing import Any

from mdmtool.errors import MdmError
from mdmtool.merge import merge_values, set_path
from mdmtool.model import ResolveInputs
from mdmtool.record import Record, field
from mdmtool.tomlio import TomlFile, TomlSyntaxError, Unsupported, parse_override, read_toml_if_exists

#: Keys a project file can never set (PROJECT_LOCAL_CONFIG_DENYLIST).
PROJECT_DENYLIST = (
    "openai_base_url", "chatgpt_base_url", "apps_mcp_product_sku", "model_provider",
    "model_providers", "notify", "profile", "profiles",
    "experimental_realtime_webrtc_call_base_url", "experimental_realtime_ws_base_url", "otel",
    "features.respect_system_proxy",
)

#: Config keys whose values are paths resolved against the declaring file's directory.
PATH_KEYS = (
    ("sandbox_workspace_write", "writable_roots", "*"),
    ("model_instructions_file",),
    ("experimental_instructions_file",),
    ("model_catalog_json",),
    ("sqlite_home",),
    ("log_dir",),
)

KEY_ALIASES = {
    ("memories", "no_memories_if_mcp_or_web_search"): ("memories", "disable_on_external_context"),
    ("agents", "max_threads"): ("agents", "max_concurrent_threads_per_session"),
}

LAYER_LABELS = {
    "system": "system config",
    "user": "user config",
    "profile": "profile file",
    "project": "project config",
    "session-flags": "-c / --enable / --disable",
    "managed-config": "managed_config.toml",
    "mdm": "MDM config_toml_base64",
}


class ConfigLayer(Record):
    """One config source as Codex sees it."""

    kind: str
    file: str | None
    data: dict[str, Any]
    toml: TomlFile | None = None
    enabled: bool = True
    disabled_reason: str | None = None
    dot_codex: str | None = None
    #: -c layer: key path -> the override text that set it
    override_text: dict[tuple, str] = field(default_factory=dict)
    ignored_keys: list[str] = field(default_factory=list)

    def locate(self, path: tuple) -> tuple[str | None, int | None, int | None]:
        if self.toml is not None:
            src = self.toml.locate(path)
            return src.file, src.line, src.col
        return self.file, None, None

    def has(self, path: tuple) -> bool:
        cur: Any = self.data
        for part in path:
            if not isinstance(cur, dict) or part not in cur:
                return False
            cur = cur[part]
        return True


class Discovery(Record):
    """Everything found on the machine, before constraints are applied."""

    inputs: ResolveInputs
    system_dir: str
    codex_home: str
    cwd: str
    layers: list[ConfigLayer] = field(default_factory=list)  # lowest first
    managed: TomlFile | None = None
    mdm_config: TomlFile | None = None
    mdm_requirements: TomlFile | None = None
    project_root: str | None = None
    git_root: str | None = None
    trust: str | None = None  # trusted | untrusted | None (no entry)
    trust_key: str | None = None
    trust_file: str | None = None
    errors: list[str] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (key, message)


def default_codex_home() -> str:
    env = os.environ.get("CODEX_HOME")
    if env:
        return env
    return os.path.join(os.path.expanduser("~"), ".codex")


def _resolve_paths(data: dict, base: str) -> None:
    """Make relative path values absolute against ``base`` (Codex does this per file)."""
    for spec in PATH_KEYS:
        _resolve_one(data, spec, base)


def _resolve_one(node: Any, spec: tuple, base: str) -> None:
    if not isinstance(node, dict) or spec[0] not in node:
        return
    if len(spec) == 1:
        val = node[spec[0]]
        if isinstance(val, str) and val and not os.path.isabs(val):
            node[spec[0]] = os.path.normpath(os.path.join(base, val))
        return
    if spec[1] == "*":
        arr = node[spec[0]]
        if isinstance(arr, list):
            node[spec[0]] = [os.path.normpath(os.path.join(base, v))
                             if isinstance(v, str) and v and not os.path.isabs(v) else v for v in arr]
        return
    _resolve_one(node[spec[0]], spec[1:], base)


def _normalise(data: dict) -> dict:
    for old, new in KEY_ALIASES.items():
        parent = data.get(old[0])
        if isinstance(parent, dict) and old[1] in parent:
            parent.setdefault(new[1], parent.pop(old[1]))
    return data


def _load_file(path: str, kind: str, disc: Discovery, *, fatal_syntax: bool = True,
               syntax_prefix: str = "") -> TomlFile | None:
    try:
        tf = read_toml_if_exists(path)
    except TomlSyntaxError as exc:
        if fatal_syntax:
            disc.errors.append(syntax_prefix + str(exc))
        return None
    except Unsupported:  # past mdmtool's limits, not Codex's: an input error, not a refusal
        raise
    except MdmError as exc:
        # Codex: unreadable files (anything but not-found) are errors.
        disc.errors.append(str(exc))
        return None
    if tf is not None:
        _normalise(tf.data)
    return tf


def _layer_from_file(tf: TomlFile, kind: str, base_dir: str, **kw) -> ConfigLayer:
    import copy
    data = copy.deepcopy(tf.data)
    _resolve_paths(data, base_dir)
    return ConfigLayer(kind=kind, file=tf.path, data=data, toml=tf, **kw)


def _find_project_root(cwd: str, markers: list[str]) -> str:
    if not markers:
        return cwd
    cur = cwd
    while True:
        for marker in markers:
            if os.path.exists(os.path.join(cur, marker)):
                return cur
        parent = os.path.dirname(cur)
        if parent == cur:
            return cwd
        cur = parent


def _git_root(cwd: str) -> str | None:
    cur = cwd
    while True:
        git = os.path.join(cur, ".git")
        if os.path.isdir(git):
            return cur
        if os.path.isfile(git):
            # linked worktree: "gitdir: <main>/.git/worktrees/<name>" -> the main checkout
            try:
                with open(git, encoding="utf-8") as fh:
                    line = fh.read(65536).strip()  # one "gitdir:" line; never a whole big file
            except (OSError, UnicodeDecodeError):
                return cur
            if line.startswith("gitdir:"):
                gitdir = os.path.normpath(os.path.join(cur, line[7:].strip()))
                parts = gitdir.split(os.sep)
                if "worktrees" in parts:
                    idx = len(parts) - 1 - parts[::-1].index("worktrees")
                    main_git = os.sep.join(parts[:idx])
                    return os.path.dirname(main_git)
            return cur
        parent = os.path.dirname(cur)
        if parent == cur:
            return None
        cur = parent


def _lookup_trust(projects: Any, candidates: list[str]) -> tuple[str | None, str | None]:
    if not isinstance(projects, dict):
        return None, None
    for cand in candidates:
        entry = projects.get(cand)
        if isinstance(entry, dict) and entry.get("trust_level") in ("trusted", "untrusted"):
            return entry["trust_level"], cand
    return None, None


def _strip_denylisted(layer: ConfigLayer) -> list[str]:
    removed = []
    for key in PROJECT_DENYLIST:
        path = key.split(".")
        parent: Any = layer.data
        for part in path[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and path[-1] in parent:
            del parent[path[-1]]
            removed.append(key)
    return removed


def discover(inputs: ResolveInputs, *, assume_trusted: str | None = None) -> Discovery:
    """Find and read every config layer and the files requirements come from.

    ``assume_trusted`` adds a trust entry for that directory, as Codex writes one when a
    session starts in an unlisted project with a writable sandbox (see resolve.py).
    """
    system_dir = os.path.abspath(inputs.system_dir)
    codex_home = os.path.abspath(inputs.codex_home or default_codex_home())
    cwd = os.path.abspath(inputs.cwd or os.getcwd())
    disc = Discovery(inputs=inputs, system_dir=system_dir, codex_home=codex_home, cwd=cwd)

    system = _load_file(os.path.join(system_dir, "config.toml"), "system", disc)
    if system is not None:
        disc.layers.append(_layer_from_file(system, "system", system_dir))
    user = _load_file(os.path.join(codex_home, "config.toml"), "user", disc)
    if user is not None:
        disc.layers.append(_layer_from_file(user, "user", codex_home))
    if inputs.profile:
        prof = _load_file(os.path.join(codex_home, f"{inputs.profile}.config.toml"), "profile", disc)
        if prof is not None:
            disc.layers.append(_layer_from_file(prof, "profile", codex_home))

    session = _session_layer(inputs, cwd, disc)
    _discover_projects(disc, session, assume_trusted)
    if session is not None:
        disc.layers.append(session)

    disc.managed = _load_file(os.path.join(system_dir, "managed_config.toml"), "managed-config", disc)
    if disc.managed is not None:
        disc.layers.append(_layer_from_file(disc.managed, "managed-config", system_dir))

    if inputs.mdm_plist:
        _load_mdm(inputs.mdm_plist, disc)
        if disc.mdm_config is not None:
            disc.layers.append(_layer_from_file(disc.mdm_config, "mdm", system_dir))
    return disc


def _load_mdm(path: str, disc: Discovery) -> None:
    from mdmtool.mdm import read_payload
    from mdmtool.tomlio import parse_toml

    payload = read_payload(path, strict=False)  # MdmError (exit 2) if the file itself is unusable
    disc.errors.extend(payload.errors)  # a key Codex cannot load: Codex fails closed
    for attr, text in (("mdm_config", payload.config_toml), ("mdm_requirements", payload.requirements_toml)):
        if text is None:
            continue
        name = f"{path} ({'config_toml_base64' if attr == 'mdm_config' else 'requirements_toml_base64'})"
        try:
            data = _normalise(parse_toml(text, name))
        except TomlSyntaxError as exc:
            disc.errors.append(str(exc))
            continue
        setattr(disc, attr, TomlFile(path=name, text=text, data=data))


def _discover_projects(disc: Discovery, session: ConfigLayer | None, assume_trusted: str | None) -> None:
    """Find the project root, the `.codex` chain, and the trust of each folder.

    Codex uses two lookups (observed, fixtures/cases 208-236): a project layer is enabled
    when its own directory, the marker-based root or the git root is trusted; the
    trust-derived defaults look at cwd and the git root only.
    """
    below = {}
    for layer in disc.layers:
        below = merge_values(below, layer.data)
    markers = below.get("project_root_markers", [".git"])
    if not isinstance(markers, list):
        markers = [".git"]
    root = _find_project_root(disc.cwd, [m for m in markers if isinstance(m, str)])
    disc.project_root = root
    git_root = disc.git_root = _git_root(disc.cwd)
    # trust entries come from the layers below the projects and from -c (never a project file)
    projects = merge_values(below, session.data if session else {}).get("projects")
    if assume_trusted:
        projects = merge_values(projects if isinstance(projects, dict) else {},
                                {assume_trusted: {"trust_level": "trusted"}})
    default_candidates = [disc.cwd] + ([git_root] if git_root else [])
    disc.trust, disc.trust_key = _lookup_trust(projects, default_candidates)
    if disc.trust_key is not None:
        for layer in reversed(disc.layers):
            if disc.trust_key in (layer.data.get("projects") or {}):
                disc.trust_file = layer.file
                break

    # .codex dirs from the root down to cwd; nearest cwd wins (appended last)
    dirs = []
    cur = disc.cwd
    while True:
        dirs.append(cur)
        if cur == root:
            break
        parent = os.path.dirname(cur)
        if parent == cur:
            break
        cur = parent
    disabled: list[tuple[str, str | None, str | None]] = []
    for d in reversed(dirs):
        dot = os.path.join(d, ".codex")
        if os.path.abspath(dot) == disc.codex_home or not os.path.isdir(dot):
            continue
        cands = [d, root] + ([git_root] if git_root else [])
        trust, key = _lookup_trust(projects, cands)
        trusted = trust == "trusted"
        path = os.path.join(dot, "config.toml")
        tf = _load_file(path, "project", disc, fatal_syntax=trusted,
                        syntax_prefix=f"Error parsing project config file {path}: ")
        if tf is None:  # no config.toml, or bad TOML (fatal only when trusted)
            if not trusted:
                disabled.append((dot, trust, key))
                if os.path.exists(path):  # Codex counts an untrusted bad file as empty
                    disc.layers.append(ConfigLayer("project", path, {}, enabled=False,
                                                   disabled_reason=trust or "unlisted", dot_codex=dot))
            continue
        layer = _layer_from_file(tf, "project", dot, dot_codex=dot)
        layer.ignored_keys = _strip_denylisted(layer)
        if not trusted:
            layer.enabled = False
            layer.disabled_reason = trust or "unlisted"
            disabled.append((dot, trust, key))
        elif layer.ignored_keys:
            disc.warnings.append(("project", _denylist_message(layer)))
        disc.layers.append(layer)
    if disabled:
        disc.warnings.append(("project", _disabled_projects_message(disabled, disc)))


def _denylist_message(layer: ConfigLayer) -> str:
    keys = ", ".join(layer.ignored_keys)
    return (f"Ignored unsupported project-local config keys in {layer.dot_codex}/config.toml: "
            f"{keys}. If you want these settings to apply, manually set them in your user-level "
            "config.toml.")


def _disabled_projects_message(dirs: list[tuple[str, str | None, str | None]], disc: Discovery) -> str:
    lines = ["Project-local config, hooks, and exec policies are disabled in the following "
             "folders until the project is trusted, but skills still load."]
    for i, (dot, trust, key) in enumerate(dirs, 1):
        lines.append(f"    {i}. {dot}")
        if trust == "untrusted":
            lines.append(f"       {key} is marked as untrusted in the effective configuration. "
                         "To load project-local config, hooks, and exec policies, update its trust "
                         "setting. If that setting is managed by your organization, contact your "
                         "administrator.")
        else:
            lines.append("       To load project-local config, hooks, and exec policies, add "
                         f"{disc.project_root or os.path.dirname(dot)} as a trusted project in "
                         f"{os.path.join(disc.codex_home, 'config.toml')}.")
    return "\n".join(lines) + "\n"


def _session_layer(inputs: ResolveInputs, cwd: str, disc: Discovery) -> ConfigLayer | None:
    """-c overrides, --enable/--disable and --search (Codex turns it into web_search="live")."""
    if not (inputs.overrides or inputs.enable or inputs.disable or inputs.search):
        return None
    data: dict[str, Any] = {}
    texts: dict[tuple, str] = {}
    for spec in inputs.overrides:
        path, value = parse_override(spec)
        set_path(data, path, value)
        texts[tuple(path)] = spec
    if inputs.search:
        data["web_search"] = "live"
        texts[("web_search",)] = "--search"
    for name in inputs.enable:
        set_path(data, ["features", name], True)
        texts[("features", name)] = f"--enable {name}"
    for name in inputs.disable:
        set_path(data, ["features", name], False)
        texts[("features", name)] = f"--disable {name}"
    _normalise(data)
    _resolve_paths(data, cwd)
    return ConfigLayer(kind="session-flags", file=None, data=data, override_text=texts)
