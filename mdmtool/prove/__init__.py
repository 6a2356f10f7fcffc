"""``mdmtool prove``: turn an effective sandbox policy into evidence.

Rooms: :mod:`.layout` (what the backend must build, from a SandboxSpec),
:mod:`.workspace` (throw-away stand-ins for every path the policy names),
:mod:`.probes` (the probe plan and what the policy predicts), :mod:`.runner` (runs
inside the sandbox), :mod:`.bwrap` / :mod:`.seccomp` (Codex's Linux layout),
:mod:`.codex_sandbox` (the same probes through ``codex sandbox``), :mod:`.seatbelt`
(the macOS profile), :mod:`.engine` (ties them together), :mod:`.report`, :mod:`.doctor`.
"""
