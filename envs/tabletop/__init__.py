"""rlft.envs.tabletop: language-conditioned pick-and-place on PyBullet.

Layers (panda-gym style): ``sim`` (the only module importing pybullet), ``robot``, ``camera``, ``objects``,
``scene``, ``tasks`` and the thin ``env``. Names below load lazily, so importing this package does not
import pybullet.
"""

from __future__ import annotations

from rlft.errors import lazy_attributes

_LAZY = {
    "TabletopEnv": "rlft.envs.tabletop.env",
    "TASKS": "rlft.envs.tabletop.tasks",
    "save_video": "rlft.envs.tabletop.video",
}

__all__ = sorted(_LAZY)

__getattr__ = lazy_attributes(__name__, _LAZY)
