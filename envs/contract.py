"""The contract both environment families keep, in one place both import.

* One split vocabulary: :data:`SPLITS` (``train`` / ``validation`` / ``test``). Families that also split
  by held-out *attributes* map it onto their own: tabletop draws seen colours and shapes for ``train`` and
  ``validation`` and held-out ones for ``test`` (``unseen`` is accepted there as an alias of ``test``).
* One set of core ``info`` keys: :data:`CORE_INFO_KEYS`, built by :func:`core_info`. ``is_success``
  mirrors ``success`` for Stable-Baselines3's ``Monitor`` / ``EvalCallback``.
* One validation of ``invalid_action_penalty``: :func:`check_penalty`.
* One answer to "which keyword arguments does this id take, of which types": :func:`declared_kwargs`, which
  reads the entry point's signature, or asks the env class (``declared_kwargs(registered_kwargs)``, returning
  the same pair) when its accepted kwargs depend on the registered ones (a web id's task adds its own).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
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


def signature_kwargs(func: Callable[..., Any]) -> tuple[dict[str, Any], bool]:
    """The keyword arguments ``func`` declares (name -> annotation) and whether it takes ``**kwargs``.

    ``self`` and ``*args`` are skipped. An unannotated argument maps to the type of its default (``Any``
    when the default is None or missing).
    """
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # unresolvable forward references: fall back to the defaults' types
        hints = {}
    declared: dict[str, Any] = {}
    var_keyword = False
    for name, param in inspect.signature(func).parameters.items():
        if name == "self" or param.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            var_keyword = True
            continue
        default_type = type(param.default) if param.default not in (inspect.Parameter.empty, None) else Any
        declared[name] = hints.get(name, default_type)
    return declared, var_keyword


def declared_kwargs(entry_point: Any, registered: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """The keyword arguments an env id accepts (name -> annotation), and whether it accepts any others.

    Args:
        entry_point: the id's entry point (an env class or a factory).
        registered: the kwargs the id is registered with (``gym.spec(id).kwargs``).
    """
    hook = getattr(entry_point, "declared_kwargs", None)
    if callable(hook):
        declared, open_ended = hook(registered)
        return dict(declared), bool(open_ended)
    init = entry_point.__init__ if inspect.isclass(entry_point) else entry_point
    return signature_kwargs(init)
