"""The reference JSON Schemas (schemas/*.schema.json) for Codex 0.169.0.

Checked four ways: against the draft 2020-12 metaschema and our documentation rules;
against per-key answers recorded from the real Codex binary (fixtures/schema/); against
every TOML input of the recorded oracle cases (fixtures/oracle_cases/, fixtures/cases/),
whose expected.json says what Codex refused and which keys it called unrecognized; and
against the example trees in fixtures/validate/ (each invalid file names its problem in a
``# expect:`` first line, and real Codex's verdict on it is recorded beside them).
"""

from __future__ import annotations

import glob
import json
import os
import re
import tomllib

import pytest
import tomlkit
from jsonschema import Draft202012Validator, ValidationError, validators

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMAS = os.path.join(ROOT, "schemas")
FIX = os.path.join(ROOT, "fixtures")
KINDS = ("config", "requirements")
PLACEHOLDERS = {"@PROJECT@": "/work/project", "@CODEX_HOME@": "/work/codex_home",
                "@HOME@": "/work/home", "@WORK@": "/work"}


def load(kind: str) -> dict:
    with open(os.path.join(SCHEMAS, f"{kind}.schema.json"), encoding="utf-8") as fh:
        return json.load(fh)


# --------------------------------------------------------------------------- validation helper

def _fatal(validator, value, instance, schema):
    if value:
        yield ValidationError("Codex refuses to start while this key is set")


def _fatal_values(validator, values, instance, schema):
    if isinstance(instance, str) and instance in values:
        yield ValidationError(f"Codex refuses to start with the value {instance!r}")


def _ignored(validator, value, instance, schema):
    if value:
        yield ValidationError("retired key: Codex reports it as unrecognized and ignores it")


Checker = validators.extend(Draft202012Validator, {
    "x-mdmtool-fatal": _fatal,
    "x-mdmtool-fatal-values": _fatal_values,
    "x-mdmtool-ignored": _ignored,
})
_CHECKERS = {k: Checker(load(k)) for k in KINDS}


def dotted(path) -> str:
    return ".".join(str(p) for p in path)


def _extras(error: ValidationError) -> list[str]:
    props = error.schema.get("properties", {})
    patterns = error.schema.get("patternProperties", {})
    return [k for k in error.instance
            if k not in props and not any(re.search(p, k) for p in patterns)]


def _required_keys(node) -> set[str]:
    out = set()
    if isinstance(node, dict):
        out |= set(node.get("required", []))
        for sub in node.get("anyOf", []) + node.get("oneOf", []) + node.get("allOf", []):
            out |= _required_keys(sub)
    return out


def _strip_project_denylist(data: dict) -> dict:
    """Codex drops these keys from project files before anything else looks at them."""
    props = load("config")["properties"]
    data = {k: v for k, v in data.items() if not props.get(k, {}).get("x-mdmtool-project-denylisted")}
    if isinstance(data.get("features"), dict):
        data["features"] = {k: v for k, v in data["features"].items() if k != "respect_system_proxy"}
    return data


def classify(kind: str, data: dict, project: bool = False) -> dict:
    """Schema verdict on one parsed file, in Codex's terms.

    errors: [(dotted path, message)] Codex would refuse (types, enums, fatal keys); for
    errors inside anyOf/oneOf/not the deeper locations are listed too;
    effective_fatal: [(path, message)] values that are fatal only when they are the merged
    (effective) value (`approval_policy = "untrusted"`);
    flagged: dotted paths Codex lists as "unrecognized configuration settings";
    features: unknown requirement feature pins (Codex warns about them separately).
    """
    errors, flagged, features, effective_fatal = [], set(), set(), []
    if project:
        data = _strip_project_denylist(data)
    for err in _CHECKERS[kind].iter_errors(data):
        path = list(err.absolute_path)
        if err.validator == "additionalProperties" and err.validator_value is False:
            unknown_policy = err.schema.get("x-mdmtool-unknown-keys")
            for key in _extras(err):
                if unknown_policy == "warn-unknown-feature":
                    features.add(key)
                else:
                    flagged.add(dotted(path + [key]))
            continue
        if err.validator == "x-mdmtool-ignored":
            flagged.add(dotted(path))
            continue
        if err.validator == "x-mdmtool-fatal-values":
            effective_fatal.append((dotted(path), err.message))
            continue
        if "propertyNames" in err.relative_schema_path or "propertyNames" in err.schema_path:
            path = path + [err.instance]
        errors.append((dotted(path), err.message))
        for sub in err.context or ():
            errors.append((dotted(list(sub.absolute_path)), sub.message))
        if err.validator == "not" and isinstance(err.instance, dict):
            for key in sorted(_required_keys(err.validator_value) & set(err.instance)):
                errors.append((dotted(path + [key]), err.message))
    return {"errors": errors, "flagged": flagged, "features": features,
            "effective_fatal": effective_fatal}


def parse(text: str) -> dict:
    """tomllib, then tomlkit for TOML 1.1 inline tables that Codex's reader accepts."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return tomlkit.parse(text).unwrap()


def substitute(text: str) -> str:
    for key, value in PLACEHOLDERS.items():
        text = text.replace(key, value)
    return text


# --------------------------------------------------------------------------- schema documents

@pytest.mark.parametrize("kind", KINDS)
def test_schema_is_valid_2020_12(kind):
    schema = load(kind)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://mdmtool.dev/schemas/codex-0.169.0/{kind}.schema.json"
    assert schema["title"] and schema["description"]


def _documented_nodes(node, where):
    """Every schema that describes a key or a value slot: properties, map values, items, $defs."""
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            yield f"{where}.properties.{name}", sub
        for name, sub in node.get("patternProperties", {}).items():
            yield f"{where}.patternProperties.{name}", sub
        for name, sub in node.get("$defs", {}).items():
            yield f"{where}.$defs.{name}", sub
        if isinstance(node.get("additionalProperties"), dict) and (
                "properties" in node["additionalProperties"] or "$ref" in node["additionalProperties"]
                or "type" in node["additionalProperties"]) and "allOf" not in where:
            yield f"{where}.additionalProperties", node["additionalProperties"]
        for key, sub in node.items():
            if isinstance(sub, dict):
                yield from _documented_nodes(sub, f"{where}.{key}")
            elif isinstance(sub, list):
                for i, item in enumerate(sub):
                    yield from _documented_nodes(item, f"{where}.{key}[{i}]")


@pytest.mark.parametrize("kind", KINDS)
def test_every_key_has_title_and_description(kind):
    missing = []
    for where, sub in _documented_nodes(load(kind), "#"):
        if ".allOf[" in where:  # helper subschemas that only repeat type checks
            continue
        if not isinstance(sub, dict):
            missing.append(where)
            continue
        if not (isinstance(sub.get("title"), str) and sub["title"].strip()
                and isinstance(sub.get("description"), str) and sub["description"].strip()):
            missing.append(where)
    assert not missing, f"{len(missing)} undocumented: {missing[:20]}"


def test_property_counts_cover_codex_key_sets():
    cfg, req = load("config"), load("requirements")
    # Codex 0.169.0's ConfigToml has 106 serde fields (+ 9 retired keys we describe) and
    # ConfigRequirementsToml 46 (+ 2 aliases, + 1 retired key); see the binary's
    # "struct ConfigToml with 106 elements" and "struct ConfigRequirementsToml with 46 elements".
    known_cfg = [k for k, v in cfg["properties"].items() if not v.get("x-mdmtool-ignored")]
    known_req = [k for k, v in req["properties"].items() if not v.get("x-mdmtool-ignored")]
    assert len(known_cfg) == 106
    assert len(known_req) == 46 + 2


# --------------------------------------------------------------------------- recorded key answers

def _answers(name):
    with open(os.path.join(FIX, "schema", name), encoding="utf-8") as fh:
        return json.load(fh)


def _recorder():
    """fixtures/schema/record_codex_answers.py: the answers were recorded at the schema nodes
    its ``schema_node`` finds, so the checks read the schema with the same walk."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "record_codex_answers", os.path.join(FIX, "schema", "record_codex_answers.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_REC = _recorder()
_deref, _node_at = _REC._deref, _REC.schema_node


KEY_ANSWERS = _answers("codex_key_answers.json")["tables"]
MAP_OF_FIXED_VALUES = {"config:/features"}


@pytest.mark.parametrize("table", sorted(KEY_ANSWERS))
def test_table_matches_codex(table):
    rec = KEY_ANSWERS[table]
    schema = load(rec["kind"])
    node = _node_at(schema, rec["path"])
    # how Codex treats an unknown key here
    closed = node.get("additionalProperties") is False
    strict = "propertyNames" in node and "enum" in node["propertyNames"]
    expected = {"flagged": (True, False), "silent": (False, False), "fatal": (False, True)}[rec["unknown_key"]]
    if node.get("x-mdmtool-unknown-keys") == "unverified":
        # Codex flags unknown keys here but its full key list is not known: left open on purpose
        assert rec["unknown_key"] == "flagged" and not closed, table
        expected = (False, False)
    if rec["unknown_key"] == "fatal" and not strict:
        # maps whose values have a fixed shape refuse a bogus value, not the key
        assert not closed, table
    else:
        assert (closed, strict) == expected, f"{table}: Codex says unknown keys are {rec['unknown_key']}"
    # every key the schema lists is one Codex knows (or one it reports as retired)
    for key, ans in rec["keys"].items():
        assert key in node.get("properties", {}), f"{table}.{key} was recorded but is not in the schema"
        prop = node["properties"][key]
        if prop.get("x-mdmtool-ignored"):
            assert ans["verdict"] == "flagged", f"{table}.{key}: Codex knows it ({ans['codex_detail']})"
        else:
            assert ans["verdict"] == "known", f"{table}.{key}: Codex says {ans['verdict']}"
    # and the recording covers every key the schema lists (re-record after editing a schema)
    assert set(rec["keys"]) | set(rec["set_by_context"]) == set(node.get("properties", {})), table
    # every name from the binary's field tables that Codex knows here is in the schema
    # (the feature map refuses any non-boolean value, so every candidate looks known there)
    if rec.get("codex_known_candidates") is not None and table not in MAP_OF_FIXED_VALUES:
        missing = set(rec["codex_known_candidates"]) - set(node.get("properties", {}))
        assert not missing, f"{table}: Codex knows {sorted(missing)}, the schema does not"
    # tables that refuse unknown keys: the schema's propertyNames are exactly Codex's field list
    if strict:
        names = set(re.findall(r"`([^`]+)`", rec["unknown_key_detail"].split("expected", 1)[1].split("\n")[0]))
        assert set(node["propertyNames"]["enum"]) == names, (table, rec["unknown_key_detail"])


ENUM_ANSWERS = _answers("codex_enum_answers.json")["tables"]
# values Codex names in its serde message that are not plain strings in the file
NOT_PLAIN_STRINGS = {"granular", "otlp-http", "otlp-grpc"}
# values that parse but are refused right after parsing (documented in the schema)
REFUSED_AFTER_PARSE = {("requirements:/rules/prefix_rules/0", "decision"): {"allow"}}


def _codex_variants(detail: str) -> set[str]:
    m = re.search(r"expected (?:one of )?(.*?)(?:\n|$|\s\|)", detail)
    assert m, detail
    return set(re.findall(r"`([^`]+)`", m.group(1)))


@pytest.mark.parametrize("table", sorted(ENUM_ANSWERS))
def test_enums_match_codex(table):
    rec = ENUM_ANSWERS[table]
    schema = load(rec["kind"])
    node = _node_at(schema, rec["path"])
    for key, detail in rec["enums"].items():
        prop = _deref(schema, node["properties"][key])
        ours = set(prop.get("enum") or next(
            _deref(schema, s)["enum"] for s in prop.get("oneOf", []) + prop.get("anyOf", [])
            if "enum" in _deref(schema, s)))
        assert detail and "unknown variant `zzz`" in detail, f"{table}.{key}: {detail}"
        codex = _codex_variants(detail) - NOT_PLAIN_STRINGS - REFUSED_AFTER_PARSE.get((table, key), set())
        assert ours == codex, f"{table}.{key}: schema {sorted(ours)} vs Codex {sorted(codex)}"


# --------------------------------------------------------------------------- recorded oracle cases

CASE_DIRS = sorted(d for base in ("oracle_cases", "cases")
                   for d in glob.glob(os.path.join(FIX, base, "*"))
                   if os.path.isfile(os.path.join(d, "expected.json")))
UNRECOGNIZED_LINE = re.compile(r"^\s+(.+?): `(.+?)` is ignored\.", re.M)
UNKNOWN_PIN = re.compile(r"Ignoring unknown `features` requirement `(.+?)` from")
# Codex refusals that a schema can and must catch (types, enums, shapes, fatal keys/values);
# everything else (profile inheritance, undefined names, session-time file checks,
# requirements-vs-config conflicts) is for the semantic checks.
SCHEMA_CLASS = re.compile(
    r"unknown variant|invalid type|missing field|cannot be empty|must include 'read-only'|"
    r"decision 'allow'|wanted string or table|wanted exactly 1 element|did not match any variant|"
    r"cannot be combined with legacy|cannot mix `filters`|has an empty pattern|duplicate field|"
    r"is no longer supported|invalid value: integer|must be at least 1|must be absolute|"
    r"descendant path|is not supported for|TOML parse error|duplicate key|unclosed table|"
    r"invalid basic string|invalid float|expected `\]`")


def _case_files(case: str, expected: dict, args: dict) -> list[tuple[str, str, str, bool]]:
    """(kind, Codex's display path, file, loaded by Codex) for every TOML input of a case."""
    layers = (expected.get("config") or {}).get("layers") or []
    enabled_projects = {l["name"].get("dotCodexFolder") for l in layers
                        if isinstance(l.get("name"), dict) and l["name"].get("type") == "project"
                        and not l.get("disabledReason")}
    if not layers and args.get("trust", "trusted") == "trusted":
        # Codex refused to start, so it listed no layers: the cwd project counts as trusted
        enabled_projects.add("<PROJECT>" + ("/" + args["cwd"] if args.get("cwd") else "") + "/.codex")
    out = []
    for path in sorted(glob.glob(os.path.join(case, "**", "*.toml"), recursive=True, include_hidden=True)):
        rel = os.path.relpath(path, case)
        if rel == "etc/codex/requirements.toml":
            out.append(("requirements", "/etc/codex/requirements.toml", path, True))
        elif rel.startswith("etc/codex/"):
            out.append(("config", "/" + rel, path, True))
        elif rel == "home/config.toml":
            out.append(("config", "<CODEX_HOME>/config.toml", path, True))
        elif rel.startswith("home/") and rel.endswith(".config.toml"):
            name = os.path.basename(rel)[: -len(".config.toml")]
            out.append(("config", "<CODEX_HOME>/" + os.path.basename(rel), path, args.get("profile") == name))
        elif rel.startswith("project/") and rel.endswith(".codex/config.toml"):
            folder = "<PROJECT>" + rel[len("project"):-len("/config.toml")]
            out.append(("config", "<PROJECT>" + rel[len("project"):], path, folder in enabled_projects))
    return out


def _override_doc(override: str) -> dict:
    key, _, value = override.partition("=")
    try:
        return tomllib.loads(f"{key} = {value}")
    except tomllib.TOMLDecodeError:
        return tomllib.loads(f"{key} = {json.dumps(value)}")


def _merge(dst: dict, src: dict) -> None:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            _merge(dst[k], v)
        else:
            dst[k] = v


@pytest.mark.parametrize("case", CASE_DIRS, ids=[os.path.basename(c) for c in CASE_DIRS])
def test_recorded_case_inputs(case):
    with open(os.path.join(case, "expected.json"), encoding="utf-8") as fh:
        expected = json.load(fh)
    args = {}
    if os.path.exists(os.path.join(case, "args.json")):
        with open(os.path.join(case, "args.json"), encoding="utf-8") as fh:
            args = json.load(fh)
    failed = bool((expected.get("effective") or {}).get("startup_failed"))
    details = []
    for w in expected.get("warnings", []):
        if w.get("source") == "app-server:--print-startup-config":
            details.append(json.dumps(w.get("error")))
        elif w.get("source") == "cli:stderr" and w.get("line", "").startswith("Error:"):
            details.append(w["line"])
    codex_schema_refusal = failed and any(SCHEMA_CLASS.search(d) for d in details)

    predicted_flags, predicted_pins, schema_refusal = set(), set(), []
    approval = []  # (precedence, value) of approval_policy per loaded layer
    # a legacy managed_config.toml turns approval_policy / approvals_reviewer / sandbox_mode into
    # requirements that replace the system file's allow-lists before they are checked
    replaced = set()
    managed = os.path.join(case, "etc", "codex", "managed_config.toml")
    if os.path.exists(managed):
        try:
            with open(managed, encoding="utf-8") as fh:
                mdata = tomllib.loads(fh.read())
        except tomllib.TOMLDecodeError:
            mdata = {}
        for key, req in (("approval_policy", "allowed_approval_policies"),
                         ("approvals_reviewer", "allowed_approvals_reviewers"),
                         ("sandbox_mode", "allowed_sandbox_modes")):
            if key in mdata:
                replaced.add(req)
    rank = {"/etc/codex/config.toml": 0, "<CODEX_HOME>/config.toml": 1, "/etc/codex/managed_config.toml": 9}
    for kind, display, path, loaded in _case_files(case, expected, args):
        with open(path, encoding="utf-8") as fh:
            text = substitute(fh.read())
        try:
            data = parse(text)
        except Exception as exc:  # noqa: BLE001 - any parser error is a syntax error
            if loaded:
                schema_refusal.append((display, f"syntax: {exc}"))
            continue
        is_project = display.startswith("<PROJECT>")
        verdict = classify(kind, data, project=is_project)
        if not loaded:
            continue
        schema_refusal += [(display, f"{p}: {m}") for p, m in verdict["errors"]
                           if not (kind == "requirements" and p.split(".")[0] in replaced)]
        if kind == "config" and "approval_policy" in data:
            order = rank.get(display, 2 if display.endswith(".config.toml") else 3 + display.count("/"))
            approval.append((order, data["approval_policy"]))
        predicted_flags |= {(display, k) for k in verdict["flagged"]}
        predicted_pins |= verdict["features"]
    overrides: dict = {}
    for override in args.get("overrides", []):
        _merge(overrides, _override_doc(substitute(override)))
    if overrides:
        verdict = classify("config", overrides)
        schema_refusal += [("-c", f"{p}: {m}") for p, m in verdict["errors"]]
        predicted_flags |= {("session-flags", k) for k in verdict["flagged"]}
        if "approval_policy" in overrides:
            approval.append((8, overrides["approval_policy"]))
    if approval and max(approval, key=lambda x: x[0])[1] == "untrusted":
        schema_refusal.append(("merged", 'approval_policy: effective value "untrusted" is fatal'))

    if schema_refusal:
        assert failed, f"schema refuses {schema_refusal} but Codex started"
    if codex_schema_refusal:
        assert schema_refusal, f"Codex refused ({details[0][:300]}) but the schema accepts every input"
    if failed:
        return
    # unrecognized keys: Codex prints the total and the first three
    total, listed = 0, set()
    for w in expected.get("warnings", []):
        if w.get("source") != "app-server:configWarning":
            continue
        summary = (w.get("params") or {}).get("summary") or ""
        m = re.search(r"ignoring (\d+) unrecognized", summary)
        if m:
            total += int(m.group(1))
            for layer, key in UNRECOGNIZED_LINE.findall(summary):
                where = layer.split("(")[-1].rstrip(")") if "(" in layer else "session-flags"
                listed.add((where.replace("session-flags:", "session-flags"), key))
        predicted_pins_seen = UNKNOWN_PIN.findall(summary)
        if predicted_pins_seen:
            assert set(predicted_pins_seen) <= predicted_pins
    if args.get("profile"):
        listed = {x for x in listed if not x[0].endswith(".config.toml")}
    else:
        assert len(predicted_flags) == total, f"schema flags {sorted(predicted_flags)}, Codex {total}: {sorted(listed)}"
    assert listed <= predicted_flags, f"Codex flagged {sorted(listed - predicted_flags)} that the schema knows"


# --------------------------------------------------------------------------- example trees

EXPECT = re.compile(r"^# expect: (syntax|error|fatal|warning) at (.+?): (.+)$")
EXAMPLES = sorted(glob.glob(os.path.join(FIX, "validate", "*", "*", "*.toml")))
VERDICTS_PATH = os.path.join(FIX, "validate", "codex_verdicts.json")
VERDICTS = json.load(open(VERDICTS_PATH, encoding="utf-8")) if os.path.exists(VERDICTS_PATH) else {}


def _kind_of(path: str) -> str:
    return "requirements" if f"{os.sep}requirements{os.sep}" in path else "config"


def test_example_trees_exist():
    for kind in ("config", "requirements", "managed-config"):
        for sub in ("valid", "invalid"):
            assert glob.glob(os.path.join(FIX, "validate", kind, sub, "*.toml")), (kind, sub)


@pytest.mark.parametrize("path", EXAMPLES, ids=[os.path.relpath(p, FIX) for p in EXAMPLES])
def test_example(path):
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    rel = os.path.relpath(path, os.path.join(FIX, "validate"))
    valid = f"{os.sep}valid{os.sep}" in path
    first = text.splitlines()[0]
    if valid:
        verdict = classify(_kind_of(path), tomllib.loads(text))
        assert verdict == {"errors": [], "flagged": set(), "features": set(), "effective_fatal": []}, verdict
        codex = VERDICTS[rel]
        assert not codex["refused"] and not codex["unrecognized"], codex
        return
    m = EXPECT.match(first)
    assert m, f"{rel}: first line must be '# expect: <syntax|error|fatal|warning> at <key path>: <what>'"
    what, where = m.group(1), m.group(2)
    codex = VERDICTS[rel]
    if what == "syntax":
        with pytest.raises(tomllib.TOMLDecodeError) as exc:
            tomllib.loads(text)
        line = int(where.split()[-1])
        assert f"line {line}," in str(exc.value), str(exc.value)
        assert codex["refused"], codex
        return
    verdict = classify(_kind_of(path), tomllib.loads(text))
    if what in ("error", "fatal"):
        found = verdict["errors"] + verdict["effective_fatal"]
        paths = [p for p, _ in found]
        assert where in paths, f"{rel}: expected a refusal at {where}, schema says {found}"
        if what == "fatal":
            assert any(p == where and "refuses to start" in msg for p, msg in found)
        assert codex["refused"], f"{rel}: real Codex accepted it: {codex}"
    else:
        assert not verdict["errors"], verdict["errors"]
        assert where in verdict["flagged"], f"{rel}: {where} not flagged, schema flags {verdict['flagged']}"
        assert not codex["refused"], codex
        assert where in codex["unrecognized"] or codex["unrecognized_total"] > len(codex["unrecognized"]), codex
