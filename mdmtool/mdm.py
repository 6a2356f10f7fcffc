"""macOS MDM payloads for Codex: build configuration profiles and read them back.

Codex reads the preference domain ``com.openai.codex`` with two keys (codex-policy.md
§7.3): ``requirements_toml_base64`` (requirement source 4) and ``config_toml_base64``
(the legacy managed config layer from MDM). Each value is standard base64 without line
breaks; surrounding whitespace is trimmed, an empty string counts as absent, and the
decoded bytes must be UTF-8 TOML. Anything else is a load error, so Codex refuses to
start: we refuse it too.

Reading accepts a configuration profile (.mobileconfig, XML or binary plist, also when
CMS-signed), a flat preference plist (``/Library/Managed Preferences/com.openai.codex.plist``)
and the output of ``defaults export com.openai.codex -``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import plistlib
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from xml.parsers.expat import ExpatError

from mdmtool.errors import MdmError

DOMAIN = "com.openai.codex"
REQUIREMENTS_KEY = "requirements_toml_base64"
CONFIG_KEY = "config_toml_base64"
KEYS = (REQUIREMENTS_KEY, CONFIG_KEY)

DEFAULT_IDENTIFIER = "com.openai.codex.managed"
DEFAULT_DISPLAY_NAME = "Codex CLI policy"
#: uuid5 namespace of every UUID mdmtool derives from profile content
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "mdmtool.codex.profile")
_IDENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")
MAX_PROFILE_BYTES = 16 * 1024 * 1024

_OID_SIGNED_DATA = bytes.fromhex("06092a864886f70d010702")


class MdmPayloadError(MdmError):
    """A payload value Codex could not load (bad base64, not UTF-8, not a string)."""


@dataclass
class MdmPayload:
    """The decoded Codex keys of one MDM source; ``None`` = key absent (or empty)."""

    config_toml: str | None
    requirements_toml: str | None
    source: str
    #: what the file was: "profile", "signed-profile", "preferences"
    kind: str = "preferences"
    #: profile metadata (PayloadIdentifier, PayloadUUID, PayloadDisplayName, ...)
    meta: dict[str, Any] = field(default_factory=dict)
    #: per-key load errors collected with ``strict=False`` (Codex fails closed on them)
    errors: list[str] = field(default_factory=list)
    #: facts worth telling the reader (signature not verified, legacy MCX format, ...)
    notes: list[str] = field(default_factory=list)

    def text_for(self, key: str) -> str | None:
        return self.requirements_toml if key == REQUIREMENTS_KEY else self.config_toml


# ----------------------------------------------------------------------------- encode

def encode_value(toml_text: str) -> str:
    """TOML text -> the payload string: standard base64 of its UTF-8, one line."""
    return base64.b64encode(toml_text.encode("utf-8")).decode("ascii")


def decode_value(value: Any, key: str, source: str) -> str | None:
    """A payload value -> TOML text, by Codex's rules; ``None`` when absent or empty."""
    where = f"{source} ({key})"
    if value is None:
        return None
    if isinstance(value, bytes):
        raise MdmPayloadError(f"{key} is plist <data>; Codex expects a base64 <string>", file=source)
    if not isinstance(value, str):
        raise MdmPayloadError(f"{key} must be a base64 string, not {type(value).__name__}",
                              file=source)
    text = value.strip()
    if not text:
        return None
    if re.search(r"\s", text):
        raise MdmPayloadError(f"{key} contains line breaks or spaces inside the base64; Codex "
                              "accepts standard base64 on one line only", file=source)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MdmPayloadError(f"{key} is not valid standard base64 ({exc})", file=source) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MdmPayloadError(f"decoded TOML is not UTF-8 (byte {exc.start})", file=where) from None


# ----------------------------------------------------------------------------- build

def content_digest(requirements_text: str | None, config_text: str | None, **meta: str | None) -> str:
    """sha256 over everything that ends up in the profile (UUIDs excluded)."""
    h = hashlib.sha256()
    for name, value in (("requirements", requirements_text), ("config", config_text),
                        *sorted(meta.items())):
        h.update(name.encode() + b"\0")
        h.update(b"-" if value is None else b"+" + value.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def _check_uuid(value: str, option: str) -> str:
    try:
        return str(uuid.UUID(value)).upper()
    except ValueError:
        raise MdmError(f"{option}: not a UUID: {value!r}") from None


def build_profile(requirements_text: str | None, config_text: str | None, *,
                  display_name: str = DEFAULT_DISPLAY_NAME, organization: str | None = None,
                  identifier: str = DEFAULT_IDENTIFIER, profile_uuid: str | None = None,
                  payload_uuid: str | None = None, description: str | None = None) -> bytes:
    """A configuration profile (XML plist bytes) carrying the Codex keys.

    The same inputs always give the same bytes: UUIDs are uuid5 of the content unless
    given, and keys are sorted. The identifier defaults to a constant on purpose: an
    MDM replaces an installed profile that has the same PayloadIdentifier, so an
    updated policy replaces the old one instead of being installed next to it.
    """
    if requirements_text is None and config_text is None:
        raise MdmError("nothing to put in the profile: give --requirements and/or --managed-config")
    for label, text in (("requirements", requirements_text), ("managed config", config_text)):
        if text is not None and not text.strip():
            raise MdmError(f"the {label} file is empty; Codex treats an empty payload value as "
                           "absent, so leave the option out instead")
    if not display_name.strip():
        raise MdmError("--display-name must not be empty")
    if not _IDENT_RE.match(identifier) or identifier.endswith(".") or ".." in identifier:
        raise MdmError(f"--identifier must be reverse-DNS style (letters, digits, '.', '-'): "
                       f"{identifier!r}")
    digest = content_digest(requirements_text, config_text, display_name=display_name,
                            organization=organization, identifier=identifier,
                            description=description)
    outer = _check_uuid(profile_uuid, "--uuid") if profile_uuid else \
        str(uuid.uuid5(_NAMESPACE, "profile:" + digest)).upper()
    if payload_uuid:
        inner = _check_uuid(payload_uuid, "--payload-uuid")
    elif profile_uuid:
        inner = str(uuid.uuid5(uuid.UUID(outer), DOMAIN)).upper()
    else:
        inner = str(uuid.uuid5(_NAMESPACE, "payload:" + digest)).upper()
    if inner == outer:
        raise MdmError("--uuid and --payload-uuid must differ")

    payload: dict[str, Any] = {
        "PayloadType": DOMAIN,
        "PayloadVersion": 1,
        "PayloadIdentifier": f"{identifier}.payload",
        "PayloadUUID": inner,
        "PayloadDisplayName": display_name,
        "PayloadEnabled": True,
    }
    if requirements_text is not None:
        payload[REQUIREMENTS_KEY] = encode_value(requirements_text)
    if config_text is not None:
        payload[CONFIG_KEY] = encode_value(config_text)
    if organization:
        payload["PayloadOrganization"] = organization
    profile: dict[str, Any] = {
        "PayloadType": "Configuration",
        "PayloadVersion": 1,
        "PayloadIdentifier": identifier,
        "PayloadUUID": outer,
        "PayloadDisplayName": display_name,
        "PayloadDescription": description or (
            "Codex CLI managed policy (com.openai.codex): "
            + ", ".join(k for k in KEYS if k in payload) + ". Built by mdmtool."),
        "PayloadScope": "System",
        "PayloadContent": [payload],
    }
    if organization:
        profile["PayloadOrganization"] = organization
    return plistlib.dumps(profile, fmt=plistlib.FMT_XML, sort_keys=True)


# ----------------------------------------------------------------------------- read

def _ber_header(data: bytes, pos: int) -> tuple[int, int, int | None, int]:
    """(tag, header length, content length or None if indefinite, content start)."""
    if pos + 2 > len(data):
        raise ValueError("truncated")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte tags are not used in CMS")
    first = data[pos + 1]
    if first < 0x80:
        return tag, 2, first, pos + 2
    if first == 0x80:
        return tag, 2, None, pos + 2
    n = first & 0x7F
    if n > 4 or pos + 2 + n > len(data):
        raise ValueError("bad length")
    length = int.from_bytes(data[pos + 2:pos + 2 + n], "big")
    return tag, 2 + n, length, pos + 2 + n


def _ber_end(data: bytes, pos: int) -> int:
    """Offset just past the element starting at ``pos`` (handles indefinite lengths)."""
    tag, _, length, start = _ber_header(data, pos)
    if length is not None:
        end = start + length
        if end > len(data):
            raise ValueError("truncated")
        return end
    p = start
    while True:
        if data[p:p + 2] == b"\0\0":
            return p + 2
        p = _ber_end(data, p)


def _ber_children(data: bytes, pos: int) -> list[int]:
    """Offsets of the children of the constructed element at ``pos``."""
    tag, _, length, start = _ber_header(data, pos)
    if not tag & 0x20:
        raise ValueError("not a constructed element")
    out, p = [], start
    end = start + length if length is not None else None
    while (p < end) if end is not None else (data[p:p + 2] != b"\0\0"):
        out.append(p)
        p = _ber_end(data, p)
    return out


def _octets(data: bytes, pos: int) -> bytes:
    """The bytes of an OCTET STRING, primitive or constructed (BER chunks)."""
    tag, _, length, start = _ber_header(data, pos)
    if tag == 0x04:
        return data[start:start + length] if length is not None else b""
    if tag == 0x24:
        return b"".join(_octets(data, c) for c in _ber_children(data, pos))
    raise ValueError("expected an OCTET STRING")


def looks_signed(data: bytes) -> bool:
    """A CMS SignedData (DER or BER) rather than a plist."""
    return data[:1] == b"\x30" and _OID_SIGNED_DATA in data[:32]


def unwrap_signed(data: bytes) -> bytes:
    """The plist inside a CMS-signed profile. The signature is NOT verified."""
    try:
        top = _ber_children(data, 0)                 # ContentInfo: contentType, [0] content
        explicit = _ber_children(data, top[1])        # [0] EXPLICIT
        signed = _ber_children(data, explicit[0])     # SignedData
        encap = _ber_children(data, signed[2])        # version, digestAlgs, encapContentInfo
        if len(encap) < 2:
            raise ValueError("detached signature (no content)")
        inner = _ber_children(data, encap[1])         # [0] EXPLICIT eContent
        return _octets(data, inner[0])
    except (ValueError, IndexError) as exc:
        raise MdmError(
            f"this is a signed (CMS) profile whose content could not be extracted ({exc}); "
            "use the unsigned .mobileconfig, or on a Mac run `security cms -D -i FILE -o "
            "unsigned.mobileconfig` (or `openssl smime -verify -noverify -inform DER -in FILE "
            "-out unsigned.mobileconfig`)") from None


def _codex_payloads(profile: dict) -> tuple[list[dict], bool]:
    """The com.openai.codex dicts inside a profile (and whether it used MCX format)."""
    content = profile.get("PayloadContent")
    found: list[dict] = []
    mcx = False
    items = content if isinstance(content, list) else [content] if isinstance(content, dict) else []
    for item in items:
        if not isinstance(item, dict):
            continue
        if item.get("PayloadType") == DOMAIN:
            found.append(item)
        elif item.get("PayloadType") == "com.apple.ManagedClient.preferences":
            domain = (item.get("PayloadContent") or {}).get(DOMAIN) if isinstance(
                item.get("PayloadContent"), dict) else None
            for group in ("Forced", "Set-Once", "Often"):
                for entry in (domain or {}).get(group) or []:
                    settings = entry.get("mcx_preference_settings") if isinstance(entry, dict) else None
                    if isinstance(settings, dict):
                        found.append({**settings, "PayloadUUID": item.get("PayloadUUID"),
                                      "PayloadIdentifier": item.get("PayloadIdentifier"),
                                      "_mcx_group": group})
                        mcx = True
    return found, mcx


def _looks_like_defaults_read(data: bytes) -> bool:
    head = data.lstrip()[:1]
    return head == b"{" and b"=" in data and b";" in data


def load_plist(path: str) -> tuple[dict, str, list[str]]:
    """Read a profile or preference plist: (root dict, kind, notes)."""
    from mdmtool.tomlio import read_bytes
    data = read_bytes(path, MAX_PROFILE_BYTES, what="; not a configuration profile")
    notes: list[str] = []
    kind = "preferences"
    if looks_signed(data):
        data = unwrap_signed(data)
        kind = "signed-profile"
        notes.append("signed profile: content extracted, signature NOT verified")
    if not data.strip():
        raise MdmError("file is empty", file=path)
    try:
        root = plistlib.loads(data)
    except (plistlib.InvalidFileException, ValueError, TypeError, KeyError, IndexError,
            OverflowError, RecursionError, ExpatError, LookupError) as exc:  # malformed XML, bad encoding
        if _looks_like_defaults_read(data):
            raise MdmError("this looks like `defaults read` output (old-style plist); use "
                           f"`defaults export {DOMAIN} -` instead", file=path) from None
        if data[:1] == b"\x30":
            raise MdmError("DER data that is not a CMS-signed profile", file=path) from None
        raise MdmError(f"not a property list: {exc}", file=path) from None
    if not isinstance(root, dict):
        raise MdmError(f"the plist root is a {type(root).__name__}, not a dictionary", file=path)
    if kind == "preferences" and ("PayloadContent" in root or root.get("PayloadType") == "Configuration"):
        kind = "profile"
    return root, kind, notes


def read_payload(path: str, *, strict: bool = True) -> MdmPayload:
    """Decode the Codex keys of an MDM file, by Codex's rules.

    File-level problems (unreadable, not a plist, no Codex payload in a profile, two
    payloads) raise :class:`MdmError`. A key Codex could not load raises
    :class:`MdmPayloadError`, or with ``strict=False`` is recorded in ``errors`` and
    set to ``None`` (the caller must then fail closed, like Codex). TOML syntax is not
    checked here: parse the text with :func:`mdmtool.tomlio.parse_toml`.
    """
    root, kind, notes = load_plist(path)
    meta: dict[str, Any] = {}
    if kind in ("profile", "signed-profile"):
        found, mcx = _codex_payloads(root)
        if not found:
            types = sorted({str(p.get("PayloadType")) for p in root.get("PayloadContent") or []
                            if isinstance(p, dict)}) if isinstance(root.get("PayloadContent"), list) else []
            raise MdmError(f"the profile holds no {DOMAIN} payload"
                           + (f" (payload types: {', '.join(types)})" if types else ""), file=path)
        if len(found) > 1:
            raise MdmError(f"the profile holds {len(found)} {DOMAIN} payloads; macOS would merge "
                           "them unpredictably, keep one", file=path)
        values = found[0]
        if mcx:
            notes.append(f"legacy MCX format (com.apple.ManagedClient.preferences, "
                         f"{values.get('_mcx_group')})")
        for key in ("PayloadIdentifier", "PayloadUUID", "PayloadDisplayName", "PayloadOrganization"):
            if root.get(key) is not None:
                meta[key] = root[key]
        meta["payload"] = {k: values[k] for k in ("PayloadIdentifier", "PayloadUUID")
                           if values.get(k) is not None}
    else:
        values = root
        if not any(k in root for k in KEYS):
            notes.append(f"no {REQUIREMENTS_KEY} or {CONFIG_KEY} key: nothing is delivered")
    errors: list[str] = []
    decoded: dict[str, str | None] = {}
    for key in KEYS:
        try:
            decoded[key] = decode_value(values.get(key), key, path)
        except MdmPayloadError as exc:
            if strict:
                raise
            errors.append(str(exc))
            decoded[key] = None
    return MdmPayload(config_toml=decoded[CONFIG_KEY], requirements_toml=decoded[REQUIREMENTS_KEY],
                      source=path, kind=kind, meta=meta, errors=errors, notes=notes)


def startup_refusals(requirements_text: str | None, config_text: str | None,
                     names: tuple[str, str] = ("requirements.toml", "managed_config.toml")) -> list[str]:
    """Why Codex would refuse to start with this payload on a machine with nothing else.

    The payload is put where Codex reads it (MDM requirements and MDM config) on a scratch
    machine and resolved by mdmtool's resolver: the fatal classes of codex-policy.md §6.5
    (unknown enum values, empty allow-lists, read-only missing, `allow` rules, ...) are
    caught even where a schema cannot express them.
    """
    import shutil
    import tempfile

    from mdmtool.model import ResolveInputs
    from mdmtool.resolve import resolve

    work = tempfile.mkdtemp(prefix="mdmtool-payload-")
    try:
        plist = f"{work}/payload.plist"
        values = {}
        if requirements_text is not None:
            values[REQUIREMENTS_KEY] = encode_value(requirements_text)
        if config_text is not None:
            values[CONFIG_KEY] = encode_value(config_text)
        with open(plist, "wb") as fh:
            plistlib.dump(values, fh)
        for d in ("etc", "home", "cwd"):
            os.makedirs(f"{work}/{d}")
        policy = resolve(ResolveInputs(system_dir=f"{work}/etc", codex_home=f"{work}/home",
                                       cwd=f"{work}/cwd", mdm_plist=plist))
        out = []
        for err in policy.errors:
            err = err.replace(payload_name(plist, REQUIREMENTS_KEY), names[0])
            err = err.replace(payload_name(plist, CONFIG_KEY), names[1]).replace(plist, "the payload")
            out.append(err.replace(work, "<scratch>"))
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def payload_name(source: str, key: str) -> str:
    """The name findings use for a decoded payload: ``FILE (key)``."""
    return f"{source} ({key})"
