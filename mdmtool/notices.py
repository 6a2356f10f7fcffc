"""Silent rewrites: values Codex 0.169.0 reads as something else without saying so.

Observed (fixtures/cases 125-128, 661-663): ``approval_policy = "on-failure"`` runs as
``on-request``; ``approvals_reviewer = "guardian_subagent"`` as ``auto_review`` (also in the
requirements' allow-lists); a filesystem access ``"none"`` is ``"deny"``; the special
``:project_roots`` is ``:workspace_roots``; ``agents.max_threads`` and
``memories.no_memories_if_mcp_or_web_search`` are read under their new names. The
effective view shows what they become; these notes say where and why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    from mdmtool.resolve import Resolution

#: (key path, old value, new value) for scalar values
VALUE_REWRITES = (
    (("approval_policy",), "on-failure", "on-request"),
    (("approvals_reviewer",), "guardian_subagent", "auto_review"),
)
REQUIREMENT_LIST_REWRITES = (
    ("allowed_approval_policies", "on-failure", "on-request"),
    ("allowed_approvals_reviewers", "guardian_subagent", "auto_review"),
)
KEY_REWRITES = (
    (("agents", "max_threads"), ("agents", "max_concurrent_threads_per_session")),
    (("memories", "no_memories_if_mcp_or_web_search"), ("memories", "disable_on_external_context")),
)
SILENT = "Codex 0.169.0 rewrites it without a warning"


def _fs_aliases(perms: Any, prefix: tuple) -> Iterator[tuple[tuple, str]]:
    """(key path, note) for ``"none"`` values and ``:project_roots`` keys in profiles."""
    if not isinstance(perms, dict):
        return
    for name, body in perms.items():
        fs = body.get("filesystem") if isinstance(body, dict) else None
        if not isinstance(fs, dict):
            continue
        base = prefix + (name, "filesystem")
        for key, value in fs.items():
            if key == ":project_roots":
                yield base + (key,), '`:project_roots` is read as `:workspace_roots`'
            scoped = value.items() if isinstance(value, dict) else [(None, value)]
            for sub, access in scoped:
                if access == "none":
                    path = base + ((key,) if sub is None else (key, sub))
                    yield path, f'filesystem access "none" for `{key if sub is None else key + "/" + sub}` ' \
                                'is read as "deny"'


def _where(locate, path: tuple, file: str | None) -> str:
    if not file:
        return "-c"
    src = locate(path)
    return f"{file}:{src[1]}" if src[1] else file


def notices(r: "Resolution") -> list[str]:
    out: list[str] = []
    for layer in r.enabled:
        def loc(path, layer=layer):
            return layer.locate(path)[:2] if layer.toml is not None else (None, None)
        for path, old, new in VALUE_REWRITES:
            cur: Any = layer.data
            for p in path:
                cur = cur.get(p) if isinstance(cur, dict) else None
            if cur == old:
                out.append(f'{_where(loc, path, layer.file)}: {".".join(path)} = "{old}" runs as '
                           f'"{new}" ({SILENT})')
        for path, note in _fs_aliases(layer.data.get("permissions"), ("permissions",)):
            out.append(f"{_where(loc, path, layer.file)}: {note} ({SILENT})")
        if layer.toml is not None:
            positions = layer.toml.positions()
            for old, new in KEY_REWRITES:
                if old in positions:
                    out.append(f"{layer.file}:{positions[old][0]}: `{'.'.join(old)}` is read as "
                               f"`{'.'.join(new)}` ({SILENT})")
    for src in r.req.sources:
        if src.tag == "managed-config" or src.toml is None:
            continue

        def rloc(path, src=src):
            s = src.toml.locate(path)
            return s.file, s.line
        for key, old, new in REQUIREMENT_LIST_REWRITES:
            values = src.data.get(key)
            if isinstance(values, list):
                for i, v in enumerate(values):
                    if v == old:
                        out.append(f'{_where(rloc, (key, i), src.file)}: "{old}" in {key} is read as '
                                   f'"{new}" ({SILENT})')
        for path, note in _fs_aliases(src.data.get("permissions"), ("permissions",)):
            out.append(f"{_where(rloc, path, src.file)}: {note} ({SILENT})")
        from mdmtool.reqintent import analyse
        report = analyse(src.data, src.file, src.toml)
        if report.enforces_nothing:
            out.append(f"{src.file}: {report.summary}")
    return out
