"""Predict a requirements rollout: re-resolve every collected host with the new file.

A host's ``mdmtool effective --format json`` document carries its config layers (kind,
file, config), its requirement sources and the paths Codex used. We rebuild that machine
under a scratch root -- system dir, CODEX_HOME, project chain, ``-c`` layer, MDM plist --
put the new requirements where the rollout would put them (system file, MDM key or cloud
bundle) and run the same resolver ``mdmtool effective`` uses.

Paths are canonicalised first (system dir, CODEX_HOME, project root and cwd become
placeholders), so hosts that differ only in user names share one resolution: a fleet of
100,000 hosts with a few hundred distinct setups costs a few hundred resolutions.
"""

from __future__ import annotations

import hashlib
import json
import os
import plistlib
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any

from mdmtool.errors import MdmError, UsageError
from mdmtool.fleet import POLICY_FIELDS, _first_line, fallback_keys, host_name

CHANNELS = ("system", "mdm", "cloud")
_PLACEHOLDERS = {"sys": "/@mdmtool-sys", "home": "/@mdmtool-home", "proj": "/@mdmtool-proj",
                 "cwd": "/@mdmtool-cwd"}


class CannotPredict(Exception):
    """The document lacks what a faithful re-resolution needs."""


@dataclass
class Outcome:
    """The part of an effective policy a rollout can change."""

    ok: bool
    values: dict[str, Any]
    fallbacks: list[str]
    error: str | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Outcome":
        errors = doc.get("errors") or []
        return cls(ok=bool(doc.get("ok")), values={k: doc.get(k) for k in POLICY_FIELDS},
                   fallbacks=fallback_keys(doc), error=_first_line(errors[0]) if errors else None)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, **self.values, "fallbacks": self.fallbacks, "error": self.error}


@dataclass
class HostImpact:
    host: str
    origin: str
    status: str  # refuses | falls-back | changes | unchanged | cannot-predict
    before: Outcome | None = None
    after: Outcome | None = None
    changes: list[str] = field(default_factory=list)
    new_fallbacks: list[str] = field(default_factory=list)
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "source": self.origin, "status": self.status,
                "changes": self.changes, "new_fallbacks": self.new_fallbacks, "note": self.note,
                "before": self.before.to_json() if self.before else None,
                "after": self.after.to_json() if self.after else None}


def compare(before: Outcome, after: Outcome) -> tuple[str, list[str], list[str]]:
    """(status, human-readable changes, fallbacks the new requirements add)."""
    changes: list[str] = []
    if before.ok != after.ok:
        changes.append("starts -> refuses to start" if before.ok else "refuses to start -> starts")
    if after.ok and before.ok:
        for key in POLICY_FIELDS:
            b, a = before.values.get(key), after.values.get(key)
            if b != a:
                changes.append(f"{key}: {_show(b)} -> {_show(a)}")
    new_fb = [k for k in after.fallbacks if k not in before.fallbacks] if after.ok else []
    if not after.ok:
        status = "refuses"
    elif new_fb:
        status = "falls-back"
    elif changes:
        status = "changes"
    else:
        status = "unchanged"
    return status, changes, new_fb


def _show(v: Any) -> str:
    if isinstance(v, bool):
        return "on" if v else "off"
    return "-" if v is None else str(v)


# ----------------------------------------------------------------------------- rebuild

def _toml(data: dict[str, Any]) -> str:
    import tomlkit
    return tomlkit.dumps(_no_nulls(data))


def _no_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _no_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_no_nulls(v) for v in value if v is not None]
    return value


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value if v is not None) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()
                               if v is not None) + "}"
    raise CannotPredict(f"cannot express {type(value).__name__} as a -c value")


def _overrides(config: dict[str, Any], prefix: tuple = ()) -> list[str]:
    """A session-flags layer back into ``-c key=value`` arguments."""
    out: list[str] = []
    for key, value in config.items():
        path = prefix + (key,)
        if isinstance(value, dict) and value:
            out += _overrides(value, path)
        else:
            out.append(".".join(path) + "=" + _toml_value(value))
    return out


def _canonical_paths(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(host path, placeholder) pairs, longest first."""
    pairs = []
    cwd = doc.get("cwd")
    root = doc.get("project_root") or cwd
    if doc.get("system_dir"):
        pairs.append((doc["system_dir"], _PLACEHOLDERS["sys"]))
    if doc.get("codex_home"):
        pairs.append((doc["codex_home"], _PLACEHOLDERS["home"]))
    if root:
        pairs.append((root, _PLACEHOLDERS["proj"]))
    if cwd and root and cwd != root and not (cwd + "/").startswith(root.rstrip("/") + "/"):
        pairs.append((cwd, _PLACEHOLDERS["cwd"]))
    pairs = [(p.rstrip("/") or "/", ph) for p, ph in pairs if p and p != "/"]
    return sorted(pairs, key=lambda x: -len(x[0]))


def canonical_host(doc: dict[str, Any]) -> dict[str, Any]:
    """The resolution-relevant part of a document, with host paths as placeholders."""
    needed = ("layers", "requirement_sources", "requirements", "inputs", "cwd", "project_root",
              "system_dir", "codex_home")
    missing = [k for k in ("cwd", "system_dir", "codex_home") if not isinstance(doc.get(k), str)]
    if not isinstance(doc.get("layers"), list):
        missing.insert(0, "layers")
    if missing:
        raise CannotPredict(f"the document has no {', '.join(missing)}: collect it with "
                            "`mdmtool effective --format json`")
    text = json.dumps({k: doc.get(k) for k in needed}, sort_keys=True)
    for path, placeholder in _canonical_paths(doc):
        esc = json.dumps(path)[1:-1]
        for end in ('"', "/", "\\\\"):  # whole path components only
            text = text.replace(esc + end, placeholder + end)
    return json.loads(text)


def _source_data(canon: dict[str, Any], tag: str) -> tuple[bool, dict[str, Any] | None]:
    """(host has this requirement source, its data if the document carries it)."""
    sources = [s for s in canon.get("requirement_sources") or [] if isinstance(s, dict)]
    mine = [s for s in sources if s.get("source") == tag]
    if not mine:
        return False, None
    data = mine[0].get("data")
    if isinstance(data, dict):
        return True, data
    others = [s for s in sources if s.get("source") not in (tag, "managed-config")]
    derived = [s for s in sources if s.get("source") == "managed-config"]
    if not others and not derived and isinstance(canon.get("requirements"), dict):
        return True, canon["requirements"]  # the only source: composed == its own data
    return True, None


def rebuild(canon: dict[str, Any], new_text: str, channel: str, root: str):
    """Write the canonical host under ``root`` with the new requirements; return ResolveInputs."""
    from mdmtool.model import ResolveInputs

    real = {ph: os.path.join(root, name) for name, ph in _PLACEHOLDERS.items()}
    text = json.dumps(canon)
    for ph, path in real.items():
        text = text.replace(ph, path)
    host = json.loads(text)
    system_dir, codex_home = real[_PLACEHOLDERS["sys"]], real[_PLACEHOLDERS["home"]]
    for d in (system_dir, codex_home):
        os.makedirs(d, exist_ok=True)
    cwd = host["cwd"]
    if not cwd.startswith(root):
        raise CannotPredict(f"cwd {canon['cwd']} is outside the known roots")
    os.makedirs(cwd, exist_ok=True)
    if host.get("project_root") and host["project_root"].startswith(root):
        markers = [".git"]
        for layer in host["layers"]:
            found = (layer.get("config") or {}).get("project_root_markers")
            if isinstance(found, list):
                markers = [m for m in found if isinstance(m, str)]
        if markers:
            os.makedirs(os.path.join(host["project_root"], markers[0]), exist_ok=True)

    inputs = dict(host.get("inputs") or {})
    kw: dict[str, Any] = {k: inputs[k] for k in ("sandbox", "approval", "yolo", "full_auto", "search",
                                                 "enable", "disable", "exec_mode", "add_dirs", "hostname")
                          if k in inputs}
    kw["overrides"] = []
    mdm: dict[str, str] = {}

    for layer in host["layers"]:
        kind, config, file = layer.get("kind"), layer.get("config") or {}, layer.get("file")
        if kind == "system":
            _write(os.path.join(system_dir, "config.toml"), _toml(config))
        elif kind == "managed-config":
            _write(os.path.join(system_dir, "managed_config.toml"), _toml(config))
        elif kind == "user":
            _write(os.path.join(codex_home, "config.toml"), _toml(config))
        elif kind == "profile":
            name = os.path.basename(file or "").removesuffix(".config.toml")
            if not name:
                raise CannotPredict("profile layer without a file name")
            kw["profile"] = name
            _write(os.path.join(codex_home, f"{name}.config.toml"), _toml(config))
        elif kind == "project":
            if not file or not file.startswith(root):
                raise CannotPredict(f"project layer outside the project tree: {file}")
            _write(file, _toml(config))
        elif kind == "session-flags":
            kw["overrides"] += _overrides(config)
        elif kind == "mdm":
            mdm["config_toml_base64"] = _toml(config)
        else:
            raise CannotPredict(f"unknown layer kind {kind!r}")

    for tag in ("system", "cloud", "mdm"):
        if tag == channel:
            text_for = new_text
        else:
            present, data = _source_data(canon, tag)
            if not present:
                continue
            if data is None:
                raise CannotPredict(f"the document does not carry the {tag} requirements "
                                    "(requirement_sources[].data)")
            text_for = _toml(data)
        if tag == "system":
            _write(os.path.join(system_dir, "requirements.toml"), text_for)
        elif tag == "cloud":
            path = os.path.join(root, "cloud-requirements.toml")
            _write(path, text_for)
            kw["cloud_requirements"] = path
        else:
            mdm["requirements_toml_base64"] = text_for
    if mdm:
        from mdmtool.mdm import encode_value
        path = os.path.join(root, "com.openai.codex.plist")
        with open(path, "wb") as fh:
            plistlib.dump({k: encode_value(v) for k, v in mdm.items()}, fh)
        kw["mdm_plist"] = path
    return ResolveInputs(system_dir=system_dir, codex_home=codex_home, cwd=cwd, **kw)


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def _depath(value: Any, root: str) -> Any:
    """Scratch paths in messages back to placeholders a reader understands."""
    if isinstance(value, str):
        return value.replace(root, "<host>")
    return value


# ----------------------------------------------------------------------------- the analysis

class ImpactAnalysis:
    """Re-resolves hosts under new requirements, once per distinct canonical setup."""

    def __init__(self, new_requirements: str, channel: str = "system"):
        from mdmtool.tomlio import parse_toml, read_text
        if channel not in CHANNELS:
            raise UsageError(f"unknown --channel {channel!r} (choose from {', '.join(CHANNELS)})")
        self.path = new_requirements
        self.text = read_text(new_requirements)
        parse_toml(self.text, new_requirements)  # bad TOML: exit 2 with file:line:col
        self.channel = channel
        self.remote = "remote_sandbox_config" in self.text
        self.cache: dict[str, Outcome | str] = {}
        self.resolutions = 0
        self.scratch = tempfile.mkdtemp(prefix="mdmtool-impact-")

    def close(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self) -> "ImpactAnalysis":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def predict(self, doc: dict[str, Any]) -> Outcome:
        """The host's outcome under the new requirements (raises CannotPredict)."""
        canon = canonical_host(doc)
        if self.remote or "remote_sandbox_config" in json.dumps(canon.get("requirement_sources")):
            canon.setdefault("inputs", {})
            canon["inputs"] = dict(canon["inputs"] or {}, hostname=host_name(doc, ""))
        key = hashlib.sha256(json.dumps(canon, sort_keys=True).encode()).hexdigest()
        hit = self.cache.get(key)
        if isinstance(hit, str):
            raise CannotPredict(hit)
        if hit is not None:
            return hit
        try:
            outcome = self._resolve(canon, key)
        except CannotPredict as exc:
            self.cache[key] = str(exc)
            raise
        self.cache[key] = outcome
        return outcome

    def _resolve(self, canon: dict[str, Any], key: str) -> Outcome:
        from mdmtool.resolve import resolve
        root = os.path.join(self.scratch, key[:16])
        try:
            inputs = rebuild(canon, self.text, self.channel, root)
            try:
                policy = resolve(inputs).to_json()
            except MdmError as exc:
                raise CannotPredict(f"re-resolution failed: {exc}") from None
        finally:
            shutil.rmtree(root, ignore_errors=True)
        self.resolutions += 1
        out = Outcome.from_doc(policy)
        if out.error:
            out.error = _depath(out.error, root)
        return out

    def host(self, doc: dict[str, Any], origin: str) -> HostImpact:
        name = host_name(doc, origin)
        before = Outcome.from_doc(doc)
        try:
            after = self.predict(doc)
        except CannotPredict as exc:
            return HostImpact(name, origin, "cannot-predict", before=before, note=str(exc))
        status, changes, new_fb = compare(before, after)
        return HostImpact(name, origin, status, before, after, changes, new_fb)
