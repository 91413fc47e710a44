"""The contract both environment families keep, in one place both import.

* One split vocabulary: :data:`SPLITS` (``train`` / ``validation`` / ``test``). Families that also split
  by held-out *attributes* map it onto their own: tabletop draws seen colours and shapes for ``train`` and
  ``validation`` and held-out ones for ``test`` (``unseen`` is accepted there as an alias of ``test``).
* One set of core ``info`` keys: :data:`CORE_INFO_KEYS`, built by :func:`core_info`. ``is_success``
  mirrors ``success`` for Stable-Baselines3's ``Monitor`` / ``EvalCallback``.
* One validation of ``invalid_action_penalty``: :func:`check_penalty`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rlft.errors import check_choice, check_float

SPLITS: tuple[str, ...] = ("train", "validation", "test")
"""The goal splits of every environment id (fixed, disjoint, deterministic)."""

CORE_INFO_KEYS: tuple[str, ...] = ("success", "is_success", "score", "last_action_error")
"""Keys every ``info`` dict of every id holds, after ``reset`` and after every ``step``."""

MAX_PENALTY = 1.0
"""Upper bound of ``invalid_action_penalty``: one failed action never costs more than a whole episode's
reward."""


def check_split(split: object, aliases: Mapping[str, str] | None = None) -> str:
    """Validate ``split`` against :data:`SPLITS` plus a family's documented ``aliases``.

    Returns the canonical split name (an alias resolved).

    Raises:
        ConfigError: naming the valid splits.
    """
    aliases = dict(aliases or {})
    name = check_choice("split", split, (*SPLITS, *aliases))
    return aliases.get(name, name)


def check_penalty(value: object) -> float:
    """Validate ``invalid_action_penalty`` (a finite number in ``[0, MAX_PENALTY]``) and return it.

    Raises:
        ConfigError: saying which range is accepted.
    """
    return check_float("invalid_action_penalty", value, 0.0, MAX_PENALTY)


def core_info(*, success: bool, score: float, last_action_error: str, **extra: Any) -> dict[str, Any]:
    """Build an ``info`` dict holding :data:`CORE_INFO_KEYS` (first) and the family's ``extra`` keys."""
    ok = bool(success)
    return {
        "success": ok,
        "is_success": ok,
        "score": float(score),
        "last_action_error": str(last_action_error),
        **extra,
    }
