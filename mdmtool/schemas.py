"""The packaged JSON Schemas, and turning their violations into positioned findings.

Codex rejects wrong types and values (errors) but only warns about keys it does not
know, so ``additionalProperties`` violations become warnings with a did-you-mean, and
everything else is an error. ``jsonschema`` is imported only when a file is validated;
:func:`unknown_keys` walks the schema by hand so the resolver stays light.
"""

from __future__ import annotations

import difflib
import json
import os
from functools import lru_cache
from typing import Any, Iterator

from mdmtool.model import ERROR, WARNING, Finding, Source
from mdmtool.tomlio import TomlFile, TomlSyntaxError, parse_toml, to_json_compatible

KINDS = ("config", "project-config", "requirements", "managed-config")
RULE_SYNTAX = "MDM001"
RULE_SCHEMA = "MDM002"
RULE_UNKNOWN_KEY = "MDM003"
RULE_REFUSED = "MDM005"
RULE_UNKNOWN_FEATURE = "MDM006"
RULE_PROJECT_IGNORED = "MDM007"


def _schema_path(name: str) -> str | None:
    here = os.path.dirname(os.path.abspath(__file__))
    for path in (os.path.join(here, "schemas", name),  # installed: packaged next to the code
                 os.path.join(os.path.dirname(here), "schemas", name)):  # a source checkout
        if os.path.isfile(path):
            return path
    from importlib import resources  # a zipped install (importlib.resources: ~5 ms to import)
    packaged = resources.files("mdmtool").joinpath("schemas", name)
    return str(packaged) if packaged.is_file() else None


@lru_cache(maxsize=4)
def load_schema(kind: str) -> dict[str, Any]:
    name = "requirements.schema.json" if kind == "requirements" else "config.schema.json"
    path = _schema_path(name)
    if path is None:
        return {}
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


@lru_cache(maxsize=1)
def requirement_keys() -> frozenset[str]:
    """Top-level keys Codex reads from requirements.toml, aliases included, retired ones
    (which Codex reports as unrecognized) excluded."""
    props = load_schema("requirements").get("properties", {})
    return frozenset(k for k, v in props.items() if not v.get("x-mdmtool-ignored"))


def detect_kind(path: str) -> str:
    base = os.path.basename(path)
    parent = os.path.basename(os.path.dirname(os.path.abspath(path)))
    if "requirements" in base or parent == "requirements":
        return "requirements"
    if base == "managed_config.toml" or "managed_config" in base:
        return "managed-config"
    if base == "config.toml" and os.path.basename(os.path.dirname(os.path.abspath(path))) == ".codex" \
            and not _is_codex_home(os.path.dirname(os.path.abspath(path))):
        return "project-config"
    return "config"


def _is_codex_home(directory: str) -> bool:
    from mdmtool.layers import default_codex_home
    return os.path.abspath(default_codex_home()) == directory


# ----------------------------------------------------------------------------- schema walking

def _deref(schema: dict, node: Any) -> Any:
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 20:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            return {}
        target: Any = schema
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node = target
        seen += 1
    return node


def _object_shapes(schema: dict, node: Any) -> list[dict]:
    """The object-typed alternatives of a (sub)schema."""
    node = _deref(schema, node)
    if not isinstance(node, dict):
        return []
    shapes = []
    if "properties" in node or "additionalProperties" in node or "patternProperties" in node:
        shapes.append(node)
    for comb in ("oneOf", "anyOf", "allOf"):
        for sub in node.get(comb, []):
            shapes.extend(_object_shapes(schema, sub))
    return shapes


def _child(schema: dict, shapes: list[dict], key: str) -> tuple[bool, list[Any]]:
    """Is ``key`` known under these shapes, and the schemas that describe its value.

    A property marked ``x-mdmtool-ignored`` is one Codex reports as unrecognized (retired
    keys): it counts as unknown.
    """
    import re
    known, subs = False, []
    for shape in shapes:
        props = shape.get("properties", {})
        if key in props:
            prop = _deref(schema, props[key])
            if isinstance(prop, dict) and prop.get("x-mdmtool-ignored") or \
                    isinstance(props[key], dict) and props[key].get("x-mdmtool-ignored"):
                continue
            known = True
            subs.append(props[key])
            continue
        for pattern, sub in shape.get("patternProperties", {}).items():
            if re.search(pattern, key):
                known = True
                subs.append(sub)
        addl = shape.get("additionalProperties", True)
        if isinstance(addl, dict):
            subs.append(addl)
    # closed when any alternative forbids other keys (allOf parts may only type them)
    closed = any(sh.get("additionalProperties", True) is False for sh in shapes)
    return known or not closed, subs


def _unknown_policy(schema: dict, node: Any) -> str:
    """How Codex treats unknown keys in a table: warn (default), silent, fatal, or
    warn-unknown-feature (requirements feature pins have a warning of their own)."""
    node = _deref(schema, node)
    for shape in [node] + _object_shapes(schema, node):
        if isinstance(shape, dict) and "x-mdmtool-unknown-keys" in shape:
            return shape["x-mdmtool-unknown-keys"]
    return "warn"


def unknown_key_paths(data: dict, kind: str) -> list[tuple[tuple, str]]:
    """(path, policy) of every key the schema does not know, with how Codex treats it."""
    schema = load_schema(kind)
    if not schema:
        return []
    return list(_walk_unknown(schema, schema, data, (), "warn"))


def unknown_keys(data: dict, kind: str) -> list[str]:
    """Dotted paths of the keys Codex reports as unrecognized (sorted, as Codex lists them)."""
    return sorted(".".join(map(str, p)) for p, policy in unknown_key_paths(data, kind) if policy == "warn")


#: (id(schema), id(node)) -> (schema, node, object shapes, unknown-key policy, {key: (known,
#: value schema)}): the walk asks the same questions of the same schema nodes for every
#: file of a fleet. The entry holds schema and node, so their ids stay theirs.
_NODE_MEMO: dict[tuple[int, int], tuple] = {}
_CHILDREN_MAX = 4096


def _node_info(schema: dict, node: Any) -> tuple:
    k = (id(schema), id(node))
    hit = _NODE_MEMO.get(k)
    if hit is None or hit[0] is not schema or hit[1] is not node:
        shapes = _object_shapes(schema, node)
        hit = (schema, node, shapes, _unknown_policy(schema, node) if shapes else "warn", {})
        _NODE_MEMO[k] = hit
    return hit


def _walk_unknown(schema: dict, node: Any, value: Any, path: tuple,
                  inherited: str) -> Iterator[tuple[tuple, str]]:
    if not isinstance(value, dict):
        return
    _, _, shapes, policy, children = _node_info(schema, node)
    if not shapes:
        return
    # each table's own policy: Codex flags unknown keys in closed tables under silent ones
    # (hooks.state.<x>.*, tui.keymap.*)
    for key, sub_value in value.items():
        c = children.get(key)
        if c is None:
            known, subs = _child(schema, shapes, key)
            c = (known, subs[0] if subs else None)
            if len(children) < _CHILDREN_MAX:
                children[key] = c
        known, sub = c
        if not known:
            yield path + (key,), policy
            continue
        if isinstance(sub_value, dict) and sub is not None:
            yield from _walk_unknown(schema, sub, sub_value, path + (key,), policy)


@lru_cache(maxsize=4)
def _key_index(kind: str) -> dict[str, list[str]]:
    """Property name -> the table paths where the schema defines it (for 'did you mean')."""
    schema = load_schema(kind)
    index: dict[str, list[str]] = {}

    def visit(node: Any, path: tuple, depth: int) -> None:
        if depth > 4:
            return
        for shape in _object_shapes(schema, node):
            for name, sub in shape.get("properties", {}).items():
                index.setdefault(name, [])
                table = ".".join(path)
                if table not in index[name]:
                    index[name].append(table)
                visit(sub, path + (name,), depth + 1)

    visit(schema, (), 0)
    return index


def suggest(kind: str, key: str, table: tuple, siblings: list[str]) -> str:
    """A 'did you mean' hint: the replacement of a retired key, a close sibling name, or the
    table where the key belongs."""
    retired = _retired(kind, table, key)
    if retired is not None:
        return f" (retired{'; use ' + retired if retired else ''})"
    close = difflib.get_close_matches(key, [s for s in siblings if s != key], n=1, cutoff=0.75)
    if close:
        return f"; did you mean `{close[0]}`?"
    homes = [t for t in _key_index(kind).get(key, []) if t != ".".join(table)]
    if homes:
        home = homes[0]
        return f"; did you mean to put it {'at the top level' if not home else f'under [{home}]'}?"
    return ""


def _retired(kind: str, table: tuple, key: str) -> str | None:
    """The replacement named for a retired (x-mdmtool-ignored) key; None if not retired."""
    schema = load_schema(kind)
    node: Any = schema
    for part in table:
        shapes = _object_shapes(schema, node)
        subs = [sh.get("properties", {}).get(part) for sh in shapes if part in sh.get("properties", {})]
        node = subs[0] if subs else {}
    for shape in _object_shapes(schema, node):
        prop = shape.get("properties", {}).get(key)
        prop = _deref(schema, prop) if isinstance(prop, dict) else prop
        if isinstance(prop, dict) and prop.get("x-mdmtool-ignored"):
            return prop.get("x-mdmtool-deprecated-replacement", "")
    return None


# ----------------------------------------------------------------------------- validation

def _schema_kind(kind: str) -> str:
    return "requirements" if kind == "requirements" else "config"


@lru_cache(maxsize=4)
def _validator(kind: str):
    from jsonschema import Draft202012Validator
    return Draft202012Validator(load_schema(kind))


def validate_text(text: str, kind: str, filename: str) -> list[Finding]:
    """Schema and Codex-refusal findings for one TOML text of the given kind."""
    try:
        data = parse_toml(text, filename)
    except TomlSyntaxError as exc:
        return [Finding(RULE_SYNTAX, ERROR, exc.message, Source(filename, exc.line, exc.col),
                        remediation="fix the TOML syntax; Codex refuses to load this file")]
    return validate_data(TomlFile(filename, text, data), kind)


def validate_data(tf: TomlFile, kind: str) -> list[Finding]:
    skind = _schema_kind(kind)
    data = to_json_compatible(tf.data)
    findings: list[Finding] = []
    if load_schema(skind):
        for err in _validator(skind).iter_errors(data):
            if err.validator != "additionalProperties":
                findings.extend(_to_findings(tf, skind, err))
        findings.extend(_unknown_key_findings(tf, skind, data))
    from mdmtool.refusals import refusal_findings
    findings.extend(refusal_findings(tf, kind))
    findings.sort(key=lambda f: (f.source.line or 0, f.source.col or 0, f.rule))
    return _dedupe(findings)


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per problem: a Codex-refusal (MDM005) explains a schema error at the same
    key better, and a key with a type error is not also 'unknown'."""
    refused = {f.key for f in findings if f.rule == RULE_REFUSED}
    typed = {f.key for f in findings if f.rule == RULE_SCHEMA}
    findings = [f for f in findings
                if not (f.rule == RULE_SCHEMA and f.key in refused)
                and not (f.rule == RULE_UNKNOWN_KEY and f.key in typed)]
    seen, out = set(), []
    for f in findings:
        key = (f.rule, f.source.line, f.source.col, f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


_UNKNOWN_TEXT = {
    "warn": ("{place}: Codex ignores it", WARNING),
    "warn-unknown-feature": (": not a Codex 0.169.0 feature; Codex ignores this pin", WARNING),
    "fatal": ("{place}: Codex refuses this file", ERROR),
}


def _unknown_key_findings(tf: TomlFile, kind: str, data: dict) -> list[Finding]:
    """Unknown keys as Codex treats them: a warning, nothing (silent), or a refusal (fatal)."""
    schema = load_schema(kind)
    out = []
    for path, policy in unknown_key_paths(data, kind):
        if policy not in _UNKNOWN_TEXT:
            continue
        key, table = path[-1], path[:-1]
        node: Any = schema
        for part in table:  # the table's schema, for sibling names
            shapes = _object_shapes(schema, node)
            subs = _child(schema, shapes, part)[1] if shapes else []
            node = subs[0] if subs else {}
        siblings = [k for sh in _object_shapes(schema, node) for k in sh.get("properties", {})]
        where = ".".join(str(p) for p in table)
        text, severity = _UNKNOWN_TEXT[policy]
        msg = f"unknown key `{key}`" + text.format(place=f" in [{where}]" if where else "")
        rule = {"fatal": RULE_SCHEMA, "warn-unknown-feature": RULE_UNKNOWN_FEATURE}.get(policy, RULE_UNKNOWN_KEY)
        out.append(Finding(rule, severity,
                           msg + suggest(kind, key, table, siblings), tf.locate(path),
                           remediation="remove the key or correct its name",
                           key=".".join(str(p) for p in path)))
    return out


def _to_findings(tf: TomlFile, kind: str, err) -> list[Finding]:
    pair = err.validator_value.get("required") if err.validator == "not" and \
        isinstance(err.validator_value, dict) else None
    if isinstance(pair, list) and len(pair) == 2:  # a field under its name and its alias
        field_, alias = pair
        return [Finding(RULE_SCHEMA, ERROR, f"duplicate field `{field_}`", tf.locate((alias,)),
                        remediation=f"[{alias}] is another name of [{field_}], and Codex refuses "
                        "a file that sets both: merge them into one table", key=field_)]
    path = tuple(err.absolute_path)
    dotted = ".".join(str(p) for p in path) or "(top level)"
    return [Finding(RULE_SCHEMA, ERROR, f"`{dotted}`: {_message(err, path)}", tf.locate(path),
                    remediation=_remedy(err), key=dotted)]


def _message(err, path: tuple = ()) -> str:
    from mdmtool.redact import is_secret_path, redact_at
    shown = redact_at(path, err.instance)  # never echo a secret value
    if err.validator == "enum":
        allowed = ", ".join(json.dumps(v) for v in err.validator_value)
        return f"{json.dumps(shown)} is not one of {allowed}"
    if err.validator == "type":
        want = err.validator_value if isinstance(err.validator_value, str) else " or ".join(err.validator_value)
        return f"expected {want}, got {_json_type(err.instance)} {_short(shown)}"
    if err.validator == "minItems" and err.instance == []:
        return "must not be empty (Codex refuses an empty list)"
    if err.validator == "contains":
        return f"must contain {json.dumps(err.validator_value.get('const', err.validator_value))}"
    if err.validator in ("oneOf", "anyOf", "not"):
        desc = err.schema.get("description", "") if isinstance(err.schema, dict) else ""
        return f"{_short(shown)} is not a valid value" + (f" ({_first_sentence(desc)})" if desc else "")
    if shown != err.instance or is_secret_path(path):
        return f"invalid value (fails the schema's `{err.validator}` check)"
    return err.message


def _first_sentence(text: str, limit: int = 140) -> str:
    """The first sentence of a schema description ("0.169" has a dot that is not an end)."""
    import re
    m = re.search(r"[.;:](\s|$)", text)
    first = text[: m.start()] if m else text
    return first if len(first) <= limit else first[: limit - 3].rstrip() + "..."


def _remedy(err) -> str | None:
    if err.validator == "enum":
        return "use one of: " + ", ".join(str(v) for v in err.validator_value)
    if err.validator == "contains":
        return "add the required value to the list"
    return None


def _json_type(v: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "table"}.get(type(v), type(v).__name__)


def _short(v: Any) -> str:
    text = json.dumps(v, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


# ----------------------------------------------------------------------------- strictness

def type_errors(tf: TomlFile, kind: str) -> list[Finding]:
    """Type and value errors Codex refuses a file for (unknown keys excluded).

    The resolver calls this for every layer; results for error-free content are cached
    on disk by content hash (see :mod:`mdmtool.cache`), so repeat runs skip jsonschema.
    """
    from mdmtool import cache

    skind = _schema_kind(kind)
    if not load_schema(skind):
        return []
    key = cache.key("strict", skind, schema_digest(skind), tf.text)
    if cache.get(key) == "ok":
        return []
    data = to_json_compatible(tf.data)
    found = [f for err in _validator(skind).iter_errors(data)
             if err.validator != "additionalProperties" for f in _to_findings(tf, skind, err)]
    found += [f for f in _unknown_key_findings(tf, skind, data) if f.severity == ERROR]
    if not found:
        cache.put(key, "ok")
    return found


@lru_cache(maxsize=4)
def schema_digest(kind: str) -> str:
    from mdmtool.cache import digest
    path = _schema_path("requirements.schema.json" if kind == "requirements" else "config.schema.json")
    if path is None:
        return "none"
    with open(path, "rb") as fh:
        return digest(fh.read())[:16]
