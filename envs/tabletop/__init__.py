"""rlft.envs.tabletop: language-conditioned pick-and-place on PyBullet.

Layers (panda-gym style): ``sim`` (the only module importing pybullet), ``robot``, ``camera``, ``objects``,
``scene``, ``tasks`` and the thin ``env``. Names below load lazily, so importing this package does not
import pybullet.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "TabletopEnv": "rlft.envs.tabletop.env",
    "TASKS": "rlft.envs.tabletop.tasks",
    "save_video": "rlft.envs.tabletop.video",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
