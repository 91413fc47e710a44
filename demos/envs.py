"""Making environments by id for recording, training and evaluation, with typed errors.

``--env-kwarg KEY=VALUE`` strings are parsed against the keyword arguments the environment's entry
point declares (its ``__init__`` signature and annotations), so ``heightmap=false`` arrives as
``False`` and ``image_size=640,480`` as ``(640, 480)``:

* bool: ``true/false``, ``1/0``, ``yes/no``, ``on/off`` (any case); anything else is an error.
* int, float: the usual literals. str: the text as written.
* tuple: ``640,480`` or ``(640,480)``, each item parsed as the tuple's item type.
* Optional: ``none`` / ``null`` give None.

An unknown name is a :class:`ConfigError` listing the env's kwargs with a did-you-mean. Web ids declare
their task's own kwargs as well (``require_quote=false`` on QA is a bool). A third-party entry point that
takes ``**kwargs`` accepts other names, whose values are parsed as JSON when they are valid JSON, else kept
as text.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
from rlft.envs.contract import declared_kwargs
from rlft.errors import ConfigError, UnknownEnvError, did_you_mean, import_target, unknown_name_message

__all__ = [
    "check_env_id",
    "check_env_kwargs",
    "env_kwarg_types",
    "make_env",
    "parse_env_kwargs",
]

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")
_RESERVED = ("render_mode",)
"""Entry-point arguments that the commands set themselves."""


def check_env_id(env_id: str) -> str:
    """Return ``env_id`` if Gymnasium knows it.

    Raises:
        UnknownEnvError: naming the closest registered rlft id.

    """
    import rlft  # registers the ids

    if not isinstance(env_id, str) or env_id not in gym.registry:
        raise UnknownEnvError(unknown_name_message("environment id", str(env_id), rlft.ENV_IDS))
    return env_id


def env_kwarg_types(env_id: str) -> tuple[dict[str, Any], bool]:
    """The kwargs ``env_id`` accepts (name -> annotation) and whether it accepts any others.

    See :func:`rlft.envs.contract.declared_kwargs`: web ids add their task's own kwargs
    (``require_quote`` on QA, ``num_products`` on the shop), which are typed like the env's.
    """
    spec = gym.spec(check_env_id(env_id))
    entry = import_target(spec.entry_point) if isinstance(spec.entry_point, str) else spec.entry_point
    return declared_kwargs(entry, spec.kwargs)


def _example(declared: Mapping[str, Any]) -> str:
    for preferred in ("max_steps", "heightmap", "backend"):
        if preferred in declared:
            return {"max_steps": "max_steps=20", "heightmap": "heightmap=true", "backend": "backend=text"}[
                preferred
            ]
    name = next(iter(declared), "KEY")
    return f"{name}=VALUE"


def _parse_as(hint: Any, text: str, key: str) -> Any:
    """Parse ``text`` as type ``hint`` (see the module docstring)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if type(None) in args and text.strip().lower() in ("none", "null"):
            return None
        errors = []
        for option in options:
            try:
                return _parse_as(option, text, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if errors else f"{key}={text!r} is not valid.")
    if hint is bool:
        low = text.strip().lower()
        if low in _TRUE or low in _FALSE:
            return low in _TRUE
        raise ConfigError(
            f"--env-kwarg {key}={text!r}: {key} is a boolean; write {key}=true or {key}=false "
            "(also 1/0, yes/no, on/off)."
        )
    if hint in (int, float):
        try:
            return hint(text.strip())
        except ValueError:
            kind = "an integer" if hint is int else "a number"
            raise ConfigError(f"--env-kwarg {key}={text!r}: {key} is {kind}.") from None
    if hint is tuple or origin is tuple:
        inner = text.strip()
        if inner.startswith("(") and inner.endswith(")"):
            inner = inner[1:-1]
        items = [item.strip() for item in inner.split(",") if item.strip()]
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(items):
                raise ConfigError(
                    f"--env-kwarg {key}={text!r}: {key} takes {len(args)} comma-separated values, "
                    f"e.g. {key}={','.join('1' for _ in args)}."
                )
            return tuple(_parse_as(a, item, key) for a, item in zip(args, items, strict=True))
        item_type = args[0] if args else int
        return tuple(_parse_as(item_type, item, key) for item in items)
    if hint is str:
        return text
    # dict, Any, unresolved: JSON when it is JSON, else the text itself.
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_env_kwargs(env_id: str, pairs: Sequence[str] | None) -> dict[str, Any]:
    """Parse repeated ``--env-kwarg KEY=VALUE`` strings into typed ``gym.make`` kwargs for ``env_id``.

    Raises:
        UnknownEnvError: unknown ``env_id``.
        ConfigError: malformed pair, unknown kwarg (with the env's kwargs and a did-you-mean), or a value
            that does not parse as the kwarg's type.
    """
    declared, open_ended = env_kwarg_types(env_id)
    out: dict[str, Any] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(
                f"--env-kwarg {pair!r}: write KEY=VALUE, e.g. --env-kwarg {_example(declared)}."
            )
        out[key] = _parse_known(env_id, key, value, declared, open_ended)
    return out


def _parse_known(env_id: str, key: str, value: str, declared: Mapping[str, Any], open_ended: bool) -> Any:
    if key in _RESERVED:
        raise ConfigError(f"--env-kwarg {key}: the command sets {key} itself.")
    if key in declared:
        return _parse_as(declared[key], value, key)
    if open_ended:
        return _parse_as(Any, value, key)
    raise _unknown_kwarg(env_id, key, declared)


def _unknown_kwarg(env_id: str, key: str, declared: Mapping[str, Any]) -> ConfigError:
    valid = sorted(k for k in declared if k not in _RESERVED)
    return ConfigError(
        f"{env_id} has no kwarg {key!r}.{did_you_mean(key, valid)} Its kwargs: {', '.join(valid)}."
    )


def check_env_kwargs(env_id: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Check that ``kwargs`` (already typed, from Python) name kwargs ``env_id`` declares.

    Raises:
        ConfigError: an unknown name, with the env's kwargs and a did-you-mean.
    """
    declared, open_ended = env_kwarg_types(env_id)
    for key in kwargs:
        if key not in declared and not open_ended:
            raise _unknown_kwarg(env_id, key, declared)
    return dict(kwargs)


LENGTH_KWARGS = frozenset({"max_steps", "action_mode"})
"""Env kwargs that change an episode's default length (``ee_delta`` episodes are 40 times longer)."""


def make_env(
    env_id: str,
    split: str | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    *,
    max_steps: int | None = None,
    **extra: Any,
) -> gym.Env:
    """``gym.make(env_id, split=split, **env_kwargs, **extra)``; ``split=None`` keeps the env's default.

    ``max_steps`` caps episodes with Gymnasium's ``TimeLimit`` (``max_episode_steps``). Without it, kwargs
    that change the episode length (:data:`LENGTH_KWARGS`: the env's own ``max_steps``, tabletop's
    ``action_mode``) drop the registered ``TimeLimit``, whose limit is the default length: the env then
    truncates at its own ``max_steps``.

    Raises:
        UnknownEnvError: for an unregistered id.
        ConfigError: for a kwarg the env does not declare. Bad values raise the environment's own typed
            errors.

    """
    kwargs = check_env_kwargs(env_id, dict(env_kwargs or {}))
    kwargs.update(extra)
    if split is not None:
        kwargs["split"] = split
    if max_steps is not None:
        kwargs["max_episode_steps"] = max_steps
    elif LENGTH_KWARGS & set(kwargs):
        # The registered limit is the default episode length; the env's own max_steps truncates instead.
        kwargs.setdefault("max_episode_steps", -1)
    return gym.make(check_env_id(env_id), **kwargs)
