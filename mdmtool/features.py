"""Codex 0.169.0's feature flags and their defaults (recorded from the real program)."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def feature_defaults() -> dict[str, bool]:
    """Feature name -> default value, as ``experimentalFeature/list`` reports them."""
    text = resources.files("mdmtool").joinpath("data/features-0.169.0.json").read_text("utf-8")
    return dict(json.loads(text)["defaults"])
