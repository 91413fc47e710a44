"""Typed errors raised for developer mistakes (bad kwargs, unknown names, missing files).

Agent mistakes never raise: environments report them in ``last_action_error``. Every error here carries
a message that says how to fix the problem.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class RlftError(Exception):
    """Base class of every error rlft raises on purpose."""


class ConfigError(RlftError, ValueError):
    """A keyword argument or configuration value is invalid."""


class UnknownNameError(RlftError, KeyError):
    """A name (environment id, backbone, task, site) is not registered.

    ``KeyError`` quotes its message when printed; this class prints it plainly.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UnknownEnvError(UnknownNameError):
    """An environment id is not registered."""


class UnknownBackboneError(UnknownNameError):
    """A backbone name is not registered."""


class DependencyError(RlftError, ImportError):
    """An optional dependency or an external program (browser, weights package) is missing."""


class DatasetError(RlftError):
    """A demonstration dataset is missing, corrupt or does not fit the environment."""


class CheckpointError(RlftError):
    """A checkpoint is missing, corrupt or does not fit the requested policy."""


class ModalityError(RlftError, ValueError):
    """A backbone or policy does not fit the observation modality of an environment."""


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """Return a ``" Did you mean 'x'?"`` suffix naming the closest known name, or ``""``."""
    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
    return f" Did you mean {matches[0]!r}?" if matches else ""


def unknown_name_message(kind: str, name: str, known: Iterable[str]) -> str:
    """Build the message for an unknown ``name`` of some ``kind``, listing the known names."""
    known = sorted(known)
    listing = ", ".join(known) if known else "(none registered)"
    return f"Unknown {kind} {name!r}.{did_you_mean(name, known)} Known {kind}s: {listing}."


def check_choice(kwarg: str, value: object, choices: Iterable[str]) -> str:
    """Validate that a string keyword argument is one of ``choices`` and return it.

    Raises:
        ConfigError: naming the valid choices (and the closest one) when ``value`` is not among them.
    """
    choices = list(choices)
    if not isinstance(value, str) or value not in choices:
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        raise ConfigError(
            f"{kwarg}={value!r} is not valid.{hint} Use one of: {', '.join(map(repr, choices))}."
        )
    return value


def check_int(kwarg: str, value: object, minimum: int = 1, maximum: int | None = None) -> int:
    """Validate that a keyword argument is an integer in ``[minimum, maximum]`` and return it.

    Raises:
        ConfigError: saying which range is accepted.
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        upper = f" and <= {maximum}" if maximum is not None else ""
        raise ConfigError(f"{kwarg}={value!r} is not valid: pass an integer >= {minimum}{upper}.")
    return value


def check_float(
    kwarg: str, value: object, minimum: float | None = None, maximum: float | None = None
) -> float:
    """Validate that a keyword argument is a finite number in ``[minimum, maximum]`` and return it.

    Raises:
        ConfigError: saying which range is accepted.
    """
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value  # NaN check
    ok = ok and value not in (float("inf"), float("-inf"))
    if ok and minimum is not None and value < minimum:
        ok = False
    if ok and maximum is not None and value > maximum:
        ok = False
    if not ok:
        lo = "-inf" if minimum is None else minimum
        hi = "inf" if maximum is None else maximum
        raise ConfigError(f"{kwarg}={value!r} is not valid: pass a finite number in [{lo}, {hi}].")
    return float(value)
