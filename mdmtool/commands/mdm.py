"""``mdmtool mdm build | read | jamf-ea``: macOS configuration profiles for Codex."""

from __future__ import annotations

import sys

from mdmtool.errors import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, MdmError
from mdmtool.model import ERROR, Finding

#: payload key -> (validation kind, file name used by --extract)
_KEY_INFO = {
    "requirements_toml_base64": ("requirements", "requirements.toml"),
    "config_toml_base64": ("managed-config", "managed_config.toml"),
}


def check_toml(text: str, kind: str, name: str) -> list[Finding]:
    """Parse (raises MdmError with file:line:col) and validate one TOML text."""
    from mdmtool.schemas import validate_text
    from mdmtool.tomlio import parse_toml
    parse_toml(text, name)
    return list(validate_text(text, kind, name))


def _print_findings(findings: list[Finding], stream) -> None:
    from mdmtool.redact import safe_finding
    for f in map(safe_finding, findings):
        print(f.line_text(), file=stream)
        if f.remediation:
            print(f"    fix: {f.remediation}", file=stream)


def run_build(requirements: str | None, managed_config: str | None, output: str, *,
              display_name: str, organization: str | None, identifier: str,
              profile_uuid: str | None, payload_uuid: str | None,
              description: str | None) -> int:
    """Validate the TOML, then write the profile. Error-level findings: nothing written, exit 1."""
    from mdmtool.mdm import build_profile
    from mdmtool.tomlio import read_text

    texts: dict[str, str | None] = {"requirements": None, "managed-config": None}
    findings: list[Finding] = []
    for kind, path in (("requirements", requirements), ("managed-config", managed_config)):
        if path is None:
            continue
        text = read_text(path)
        if not text.strip():
            raise MdmError("the file is empty; Codex treats an empty payload value as absent, "
                           "so leave the option out instead", file=path)
        findings += check_toml(text, kind, path)
        texts[kind] = text
    from mdmtool.mdm import startup_refusals
    refusals = [] if any(f.severity == ERROR for f in findings) else startup_refusals(
        texts["requirements"], texts["managed-config"],
        (requirements or "requirements", managed_config or "managed config"))
    _print_findings(findings, sys.stderr)
    from mdmtool.redact import redact_text
    for message in refusals:
        print(f"error: Codex would refuse to start with this payload: "
              f"{redact_text(' '.join(message.split()))}", file=sys.stderr)
    if refusals or any(f.severity == ERROR for f in findings):
        print("mdmtool: profile not written: fix the errors above (Codex would refuse this "
              "payload or ignore part of it)", file=sys.stderr)
        return EXIT_FINDINGS
    data = build_profile(texts["requirements"], texts["managed-config"],
                         display_name=display_name, organization=organization,
                         identifier=identifier, profile_uuid=profile_uuid,
                         payload_uuid=payload_uuid, description=description)
    if output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return EXIT_OK
    from mdmtool.atomic import atomic_write_bytes
    from mdmtool.mdm import read_payload
    atomic_write_bytes(output, data)
    payload = read_payload(output)  # read back what we wrote: the round trip must hold
    if payload.requirements_toml != texts["requirements"] or payload.config_toml != texts["managed-config"]:
        raise MdmError("internal check failed: the written profile does not read back "
                       "identically", file=output)
    keys = [k for k, kind in (("requirements_toml_base64", "requirements"),
                              ("config_toml_base64", "managed-config")) if texts[kind] is not None]
    print(f"wrote {output}: PayloadIdentifier {payload.meta.get('PayloadIdentifier')}, "
          f"PayloadUUID {payload.meta.get('PayloadUUID')}, keys {', '.join(keys)}")
    return EXIT_OK


def _extract(payload, directory: str, force: bool) -> list[str]:
    import os
    from mdmtool.atomic import atomic_write_text
    wanted = [(fname, payload.text_for(key)) for key, (_, fname) in _KEY_INFO.items()
              if payload.text_for(key) is not None]
    os.makedirs(directory, exist_ok=True)
    clash = [f for f, _ in wanted if os.path.lexists(os.path.join(directory, f))]
    if clash and not force:
        raise MdmError(f"refusing to overwrite {', '.join(clash)} in {directory} (use --force)")
    written = []
    for fname, text in wanted:
        written.append(atomic_write_text(os.path.join(directory, fname), text))
    return written


def run_read(path: str, *, fmt: str = "text", extract: str | None = None,
             force: bool = False) -> int:
    """Decode and validate the Codex keys of a profile / plist / `defaults export` file."""
    from mdmtool.mdm import payload_name, read_payload
    from mdmtool.redact import redact_text, redact_toml_text

    payload = read_payload(path, strict=False)
    findings: list[Finding] = []
    syntax: list[str] = []
    sections = {}
    for key, (kind, _) in _KEY_INFO.items():
        text = payload.text_for(key)
        name = payload_name(path, key)
        entry = {"present": text is not None, "kind": kind, "file": name,
                 "bytes": None if text is None else len(text.encode("utf-8")),
                 "toml": None if text is None else redact_toml_text(text)}  # shown: secrets hidden
        if text is not None:
            try:
                findings += check_toml(text, kind, name)
            except MdmError as exc:
                syntax.append(str(exc))
        sections[key] = entry
    errors = payload.errors + syntax
    refusals: list[str] = []
    if not errors and (payload.requirements_toml is not None or payload.config_toml is not None):
        from mdmtool.mdm import REQUIREMENTS_KEY, CONFIG_KEY, startup_refusals
        refusals = [" ".join(m.split()) for m in startup_refusals(
            payload.requirements_toml, payload.config_toml,
            (payload_name(path, REQUIREMENTS_KEY), payload_name(path, CONFIG_KEY)))]
    written = _extract(payload, extract, force) if extract and not errors else []

    if fmt == "text":
        _print_text(payload, sections, findings, errors, written)
    else:
        from mdmtool.reporters import render
        extra = {"mdm": {"file": path, "kind": payload.kind, "meta": payload.meta,
                         "notes": payload.notes, "errors": errors, "refuses_to_start": refusals,
                         "payloads": sections, "extracted": written}}
        names = [s["file"] for s in sections.values() if s["present"]]
        sys.stdout.write(render(fmt, findings, names, "mdmtool mdm read", extra))
    for e in errors:
        print(f"mdmtool: error: {redact_text(e)}", file=sys.stderr)
    for message in refusals:
        print(f"mdmtool: error: Codex would refuse to start with this payload: "
              f"{redact_text(message)}", file=sys.stderr)
    if syntax or (payload.errors and not any(s["present"] for s in sections.values())):
        return EXIT_USAGE
    if payload.errors or refusals or any(f.severity == ERROR for f in findings):
        return EXIT_FINDINGS
    return EXIT_OK


def _print_text(payload, sections, findings, errors, written) -> None:
    meta = payload.meta
    head = f"{payload.source}: {payload.kind.replace('-', ' ')}"
    if meta.get("PayloadIdentifier"):
        head += f", PayloadIdentifier {meta['PayloadIdentifier']}, PayloadUUID {meta.get('PayloadUUID')}"
    print(head)
    for note in payload.notes:
        print(f"note: {note}")
    for key, sec in sections.items():
        if not sec["present"]:
            print(f"\n== {key}: absent")
            continue
        text = sec["toml"]
        print(f"\n== {key} ({sec['kind']}, {sec['bytes']} bytes)")
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        mine = [f for f in findings if f.source.file == sec["file"]]
        if mine:
            print(f"-- findings in {key}:")
            _print_findings(mine, sys.stdout)
        else:
            print(f"-- {key}: no findings")
    for path in written:
        print(f"extracted {path}")
    if errors:
        print(f"\n{len(errors)} payload error(s): Codex would fail to load this payload")


# ----------------------------------------------------------------------------- jamf

JAMF_EA = r"""#!/bin/sh
# Jamf Pro extension attribute: effective OpenAI Codex CLI policy, by mdmtool {version}.
# Data type: String. Prints <result>posture=... ok=... approval=... sandbox=...</result>.
# Environment: MDMTOOL = the mdmtool command if it is not on PATH; MDMTOOL_ARGS = extra
# options for `mdmtool effective` (e.g. --system-dir); MDMTOOL_OUT = where to keep the full
# JSON document for `mdmtool fleet report` / `mdmtool fleet impact`.
PATH="/usr/local/bin:/opt/homebrew/bin:/usr/bin:/bin:$PATH"
MDMTOOL="${{MDMTOOL:-mdmtool}}"
OUT="${{MDMTOOL_OUT:-{out}}}"

if ! command -v "$MDMTOOL" >/dev/null 2>&1; then
    echo "<result>mdmtool not installed</result>"
    exit 0
fi

# Codex reads the managed preferences of com.openai.codex; export them for mdmtool.
plist=""
if [ -x /usr/bin/defaults ]; then
    plist=$(mktemp "${{TMPDIR:-/tmp}}/codex-mdm.XXXXXX") || plist=""
    if [ -n "$plist" ] && ! /usr/bin/defaults export com.openai.codex - > "$plist" 2>/dev/null; then
        rm -f "$plist"; plist=""
    fi
fi

# Evaluate as the console user would start Codex (their CODEX_HOME), in their home.
user=$(id -un)
if [ "$(uname -s)" = "Darwin" ]; then
    user=$(/usr/bin/stat -f %Su /dev/console 2>/dev/null || id -un)
fi
home=""
if [ "$user" != "root" ] && [ "$user" != "loginwindow" ] && [ -x /usr/bin/dscl ]; then
    home=$(/usr/bin/dscl . -read "/Users/$user" NFSHomeDirectory 2>/dev/null | sed -n 's/^NFSHomeDirectory: //p')
fi
[ -n "$home" ] && [ -d "$home" ] || home="${{HOME:-/var/root}}"
json=$(mktemp "${{TMPDIR:-/tmp}}/codex-effective.XXXXXX") || {{ echo "<result>mktemp failed</result>"; exit 0; }}
set -- effective --format json --codex-home "$home/.codex" --cwd "$home"
[ -n "$plist" ] && set -- "$@" --mdm-plist "$plist"
# shellcheck disable=SC2086  # MDMTOOL_ARGS holds extra options, split on purpose
[ -n "${{MDMTOOL_ARGS:-}}" ] && set -- "$@" ${{MDMTOOL_ARGS}}
"$MDMTOOL" "$@" > "$json" 2>/dev/null
rc=$?
if [ "$rc" -ge 2 ]; then
    echo "<result>error: mdmtool exit $rc</result>"
else
    if [ -n "$OUT" ]; then
        mkdir -p "$(dirname "$OUT")" 2>/dev/null && cp "$json" "$OUT" 2>/dev/null
    fi
    echo "<result>$("$MDMTOOL" fleet summary "$json" 2>/dev/null || echo "summary failed")</result>"
fi
rm -f "$json" ${{plist:+"$plist"}}
exit 0
"""


def run_jamf_ea(out: str | None = None) -> int:
    from mdmtool import __version__
    sys.stdout.write(JAMF_EA.format(version=__version__, out=out or ""))
    return EXIT_OK

