"""The one place where every rlft environment id is registered with Gymnasium.

Ids are generated in loops from the tables below; nothing is registered by copy-paste. Each table maps
the id's name to the keyword arguments its entry point receives and a one-line description (shown by
``rlft envs``). Bump an id's ``-vN`` when its behaviour changes.

Importing this module is cheap: entry points are strings, so no environment module (and none of
torch, pybullet or playwright) is imported until ``gym.make``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

NAMESPACE = "rlft"


@dataclass(frozen=True)
class EnvEntry:
    """What is registered for one environment id."""

    name: str
    """Name inside the namespace, without version (``WebShop``)."""
    version: int
    """The ``-vN`` suffix."""
    entry_point: str
    """``module:Class`` imported lazily by ``gym.make``."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments that select the variant; users' ``gym.make`` kwargs override them."""
    description: str = ""
    """One line for ``rlft envs``."""

    @property
    def id(self) -> str:
        """The full Gymnasium id, ``rlft/<name>-v<version>``."""
        return f"{NAMESPACE}/{self.name}-v{self.version}"


_WEB_ENTRY = "rlft.envs.web.env:WebEnv"
_TABLETOP_ENTRY = "rlft.envs.tabletop.env:TabletopEnv"

# name -> (site, description)
WEB_SITES: dict[str, tuple[str, str]] = {
    "WebShop": ("shop", "Shop: search 5,000 generated products and buy the one the instruction asks for"),
    "WebQA": ("qa", "Encyclopedia QA: browse fictional articles and answer a single- or two-hop question"),
}

# family name (CamelCase, used in the id) -> (family key, description)
WEB_FORM_FAMILIES: dict[str, tuple[str, str]] = {}

# name -> (task key, description)
TABLETOP_TASKS: dict[str, tuple[str, str]] = {}


def _entries() -> list[EnvEntry]:
    entries = [
        EnvEntry(name, 0, _WEB_ENTRY, {"site": site}, desc) for name, (site, desc) in WEB_SITES.items()
    ]
    entries += [
        EnvEntry(f"WebForm{name}", 0, _WEB_ENTRY, {"site": "forms", "family": family}, desc)
        for name, (family, desc) in WEB_FORM_FAMILIES.items()
    ]
    entries += [
        EnvEntry(name, 0, _TABLETOP_ENTRY, {"task": task}, desc)
        for name, (task, desc) in TABLETOP_TASKS.items()
    ]
    return entries


ENTRIES: tuple[EnvEntry, ...] = tuple(_entries())
ENV_IDS: tuple[str, ...] = tuple(entry.id for entry in ENTRIES)


def register_envs() -> None:
    """Register every id in :data:`ENV_IDS` with Gymnasium (idempotent)."""
    for entry in ENTRIES:
        if entry.id not in gym.registry:
            gym.register(id=entry.id, entry_point=entry.entry_point, kwargs=dict(entry.kwargs))


def describe_envs() -> dict[str, str]:
    """Map every registered id to its one-line description."""
    return {entry.id: entry.description for entry in ENTRIES}
