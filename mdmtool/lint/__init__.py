"""``mdmtool lint``: policy and safe-practice rules over Codex config files.

Layout: :mod:`catalog` (rule IDs and metadata), :mod:`discover` (paths -> units of
files that Codex reads together), :mod:`context` (a unit and its files),
:mod:`engine` (runs the rules, applies waivers), :mod:`waivers`, :mod:`fleet`
(parallel, streaming runs over thousands of hosts) and :mod:`rules` (one module per
rule family).
"""
