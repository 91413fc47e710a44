"""The backbone registry: names -> backbone factories, filled from code and from entry points.

Importing this module is cheap (no torch): built-in backbones are registered as ``"module:attr"``
strings and imported only when :func:`load_backbone` asks for them, the way Gymnasium registers
environments and lerobot registers policies. The names live in one :class:`rlft.errors.LazyRegistry`.

Four ways a backbone is named:

* built-ins listed in :data:`BUILTIN_BACKBONES` (lazy strings);
* ``@register_backbone("name")`` on a :class:`~rlft.policies.backbone.Backbone` subclass or a factory
  function, from any code (a user's script or package);
* the entry-point group ``rlft.backbones``: a third-party package declares
  ``[project.entry-points."rlft.backbones"] my-model = "my_pkg.module:MyBackbone"`` and the name becomes
  available without importing anything until it is used. Registering the same class through the
  decorator as well is harmless (the second registration of the same target is a no-op);
* a spec ``"my_pkg.module:MyBackbone"`` naming a Backbone subclass directly: the module is imported
  (from ``sys.path`` or the current directory) and the class is built, without any registration.

A name that ends with ``":"`` is a *family*: the spec ``"hf:gpt2"`` calls the ``"hf:"`` factory with
``"gpt2"`` as its first argument. A spec ``"a+b"`` pairs a language backbone ``a`` with a vision
backbone ``b`` into one vision-language backbone (CLIPort's two-stream design). ``"scratch:<spec>"``
is ``<spec>`` (a pair too) with the same architecture and tokenizer but random weights
(:mod:`rlft.policies.scratch`).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any, TypeVar

from rlft.errors import (
    ConfigError,
    DependencyError,
    LazyRegistry,
    UnknownBackboneError,
    did_you_mean,
    import_target,
)
from rlft.policies.modalities import MODALITIES

if TYPE_CHECKING:
    from rlft.policies.backbone import Backbone

__all__ = [
    "BUILTIN_BACKBONES",
    "ENTRY_POINT_GROUP",
    "MODALITIES",
    "SCRATCH_PREFIX",
    "BackboneEntry",
    "backbones_with_modality",
    "get_entry",
    "list_backbones",
    "load_backbone",
    "load_scratch",
    "register_backbone",
    "reload_entry_points",
    "spec_modality",
    "unregister_backbone",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "rlft.backbones"
"""Entry-point group through which third-party packages register backbones."""

SCRATCH_PREFIX = "scratch:"
"""``scratch:<spec>`` is ``<spec>`` with random weights; it wraps a whole spec, ``+`` pairs included."""

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class BackboneEntry:
    """One registered backbone name."""

    name: str
    """The registered name (``"minilm"``; families end with ``":"``, ``"hf:"``)."""
    target: Callable[..., Backbone] | str
    """A class / factory returning a Backbone, or a lazy ``"module:attr"`` string."""
    modality: str | None
    """The modality the backbone will have, when known without loading it (``None`` for families
    such as ``hf:`` whose modality depends on the checkpoint)."""
    description: str = ""
    """One line for ``list_backbones(details=True)`` and the docs."""
    source: str = "code"
    """``"builtin"``, ``"code"`` (the decorator) or ``"entry-point"``."""

    def resolve(self) -> Callable[..., Backbone]:
        """Import the target if it is a lazy string and return the callable."""
        return _TARGETS.get(self.name)


# name -> (lazy target, modality, description)
BUILTIN_BACKBONES: dict[str, tuple[str, str | None, str]] = {
    "minilm": (
        "rlft.policies.embedded:MiniLMBackbone",
        "text",
        "all-MiniLM-L6-v2 sentence encoder (22.7M), weights embedded in a pip package",
    ),
    "smollm2-135m": (
        "rlft.policies.embedded:SmolLM2Backbone",
        "causal_lm",
        "SmolLM2-135M-Instruct causal LM, from its pip package (GGUF, converted once and cached)",
    ),
    "efficientnet-lite0": (
        "rlft.policies.embedded:EfficientNetLite0Backbone",
        "vision",
        "EfficientNet-lite0 ImageNet encoder (3.4M), weights embedded in a pip package",
    ),
    "minilm+efficientnet": (
        "rlft.policies.embedded:minilm_efficientnet",
        "vision_language",
        "embedded vision-language default: MiniLM language stream + EfficientNet-lite0 vision stream",
    ),
    "clip:": (
        "rlft.policies.hf:load_clip",
        "vision_language",
        "Hugging Face CLIP (image and text towers) from a hub id or a local folder: clip:<id-or-path>",
    ),
    "hf:": (
        "rlft.policies.hf:load_hf",
        None,
        "any Hugging Face encoder or causal LM, type detected from its config: hf:<id-or-path>",
    ),
    "scratch:": (
        "rlft.policies.registry:load_scratch",
        None,
        "the same architecture and tokenizer with random weights (seeded by init_seed): scratch:<spec>",
    ),
    "tiny-bert": ("rlft.policies.tiny:TinyBertBackbone", "text", "tiny random BERT built locally (tests)"),
    "tiny-gpt2": (
        "rlft.policies.tiny:TinyGPT2Backbone",
        "causal_lm",
        "tiny random GPT-2 built locally (tests)",
    ),
    "tiny-clip": (
        "rlft.policies.tiny:TinyClipBackbone",
        "vision_language",
        "tiny random CLIP built locally (tests)",
    ),
}

_TARGETS: LazyRegistry[Callable[..., Any]] = LazyRegistry(
    "backbone", {name: target for name, (target, _, _) in BUILTIN_BACKBONES.items()}, UnknownBackboneError
)
"""name -> factory (or lazy ``"module:attr"``): lazy imports and idempotent re-registration."""

_ENTRIES: dict[str, BackboneEntry] = {
    name: BackboneEntry(name, target, modality, desc, "builtin")
    for name, (target, modality, desc) in BUILTIN_BACKBONES.items()
}
"""name -> what ``list_backbones(details=True)`` shows."""

_ENTRY_POINTS_LOADED = False


def _load_entry_points() -> None:
    """Add the names declared in the ``rlft.backbones`` entry-point group (once per process)."""
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    _ENTRY_POINTS_LOADED = True
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        target = f"{ep.module}:{ep.attr}" if ep.attr else ep.value
        known = ep.name in _TARGETS
        try:
            # The same class registered by its decorator as well is a no-op here.
            _TARGETS.register(ep.name, target)
        except ConfigError:
            logger.warning("entry point %r (%s) shadows an already registered backbone", ep.name, target)
            _TARGETS.register(ep.name, target, overwrite=True)
            known = False
        if not known:
            _ENTRIES[ep.name] = BackboneEntry(ep.name, target, None, f"entry point {target}", "entry-point")


def reload_entry_points() -> None:
    """Scan the ``rlft.backbones`` entry-point group again (after installing a plug-in package)."""
    global _ENTRY_POINTS_LOADED
    _ENTRY_POINTS_LOADED = False
    _load_entry_points()


def register_backbone(
    name: str, *, modality: str | None = None, description: str = "", overwrite: bool = False
) -> Callable[[F], F]:
    """Decorator that registers a Backbone subclass or a factory function under ``name``.

    The decorated object is called as ``target(**kwargs)`` by :func:`load_backbone` (family names that
    end with ``":"`` get the part after the colon as first positional argument) and must return a
    :class:`~rlft.policies.backbone.Backbone`. Registering the same target again (for example once by
    this decorator and once through the package's ``rlft.backbones`` entry point) is a no-op.

    Args:
        name: The name users pass to :func:`load_backbone` / ``PolicyConfig.backbone``. Lower-case,
            no ``+``; end it with ``":"`` to register a family (``"mymodels:"``).
        modality: The modality of the backbones it returns; read from the class when omitted.
        description: One line shown by ``list_backbones(details=True)``.
        overwrite: Replace an existing registration of another target instead of raising.

    Raises:
        ConfigError: when the name is malformed or already registered to another target (and
            ``overwrite`` is False).
    """
    if not isinstance(name, str) or not name or "+" in name or any(c.isspace() for c in name):
        raise ConfigError(f"register_backbone({name!r}): pass a non-empty name without spaces or '+'.")
    if modality is not None and modality not in MODALITIES:
        raise ConfigError(f"register_backbone(modality={modality!r}): use one of {', '.join(MODALITIES)}.")

    def decorator(target: F) -> F:
        _load_entry_points()
        _TARGETS.register(name, target, overwrite=overwrite)
        declared = modality if modality is not None else getattr(target, "modality", None)
        doc = description or (target.__doc__ or "").strip().split("\n")[0]
        _ENTRIES[name] = BackboneEntry(name, target, declared if isinstance(declared, str) else None, doc)
        return target

    return decorator


def unregister_backbone(name: str) -> None:
    """Remove a registered name (used by tests and by plug-ins that replace a backbone)."""
    if name not in _TARGETS:
        raise _unknown(name)
    _TARGETS.unregister(name)
    del _ENTRIES[name]


def _display(name: str) -> str:
    return f"{name}<id-or-path>" if name.endswith(":") else name


def _unknown(spec: str) -> UnknownBackboneError:
    known = sorted(_display(name) for name in _TARGETS)
    return UnknownBackboneError(
        f"Unknown backbone {spec!r}.{did_you_mean(spec, known)} Known backbones: {', '.join(known)}. "
        "A backbone of your own can be passed as 'package.module:ClassName' (a Backbone subclass), "
        "registered with @register_backbone('name'), or declared by a package in the "
        f'{ENTRY_POINT_GROUP!r} entry-point group (name = "package.module:ClassName").'
    )


def list_backbones(details: bool = False) -> list[str] | list[BackboneEntry]:
    """The registered backbone names, sorted (families shown as ``"hf:<id-or-path>"``).

    Args:
        details: Return the :class:`BackboneEntry` records (name, modality, description, source)
            instead of the names.
    """
    _load_entry_points()
    entries = sorted(_ENTRIES.values(), key=lambda e: e.name)
    return entries if details else [_display(e.name) for e in entries]


def _is_class_spec(spec: str) -> bool:
    """``"package.module:ClassName"``: a dotted module path, a colon and a Python identifier."""
    module, sep, attr = spec.partition(":")
    return bool(sep) and attr.isidentifier() and all(part.isidentifier() for part in module.split("."))


def _import_class_spec(spec: str) -> type[Backbone]:
    """Import the Backbone subclass named by ``"package.module:ClassName"``.

    The module is looked up on ``sys.path`` and then in the current directory (so a command-line run
    finds a backbone defined in the user's own file).

    Raises:
        UnknownBackboneError: when the module cannot be found.
        ConfigError: when the attribute is missing or is not a Backbone subclass.
    """
    from rlft.policies.backbone import Backbone

    module_name = spec.partition(":")[0]
    top = module_name.split(".")[0]
    added = False
    if top not in sys.modules and importlib.util.find_spec(top) is None:
        cwd = os.getcwd()
        if cwd in sys.path or not (
            os.path.isfile(os.path.join(cwd, f"{top}.py")) or os.path.isdir(os.path.join(cwd, top))
        ):
            raise _unknown(spec)
        sys.path.insert(0, cwd)
        added = True
    try:
        target = import_target(spec)
    finally:
        if added:
            sys.path.remove(os.getcwd())
    if not (isinstance(target, type) and issubclass(target, Backbone)):
        raise ConfigError(
            f"Backbone spec {spec!r} names {target!r}, which is not an rlft.policies.Backbone subclass; "
            "point it at a class that subclasses Backbone (or register a factory with @register_backbone)."
        )
    return target


def get_entry(spec: str) -> tuple[BackboneEntry, str | None]:
    """Find the entry for one (non-composite) spec; returns ``(entry, family_argument)``.

    A ``"package.module:ClassName"`` spec gets an unregistered entry for that class.

    Raises:
        UnknownBackboneError: listing the known names and the closest one.
        ConfigError: for a family spec without an argument, or a class spec that is not a Backbone.
    """
    _load_entry_points()
    if spec in _TARGETS and not spec.endswith(":"):
        return _ENTRIES[spec], None
    family, sep, arg = spec.partition(":")
    if sep and f"{family}:" in _TARGETS:
        if not arg:
            raise ConfigError(
                f"Backbone spec {spec!r} needs an id or a path after the colon, e.g. {family}:<path>."
            )
        return _ENTRIES[f"{family}:"], arg
    if _is_class_spec(spec):
        cls = _import_class_spec(spec)
        return BackboneEntry(spec, cls, getattr(cls, "modality", None), spec, "class"), None
    raise _unknown(spec)


def _is_pair(spec: str) -> bool:
    """``"a+b"`` is a text+vision pair unless the whole string is itself a registered name."""
    _load_entry_points()
    return "+" in spec and spec not in _TARGETS and not spec.startswith(SCRATCH_PREFIX)


def spec_modality(spec: str) -> str | None:
    """The modality of ``spec`` when it is known without loading weights (``None`` otherwise)."""
    if spec.startswith(SCRATCH_PREFIX) and spec != SCRATCH_PREFIX:
        return spec_modality(spec[len(SCRATCH_PREFIX) :])
    if _is_pair(spec):
        return "vision_language"
    entry, _ = get_entry(spec)
    return entry.modality


def backbones_with_modality(modalities: tuple[str, ...]) -> list[str]:
    """Registered names whose declared modality is one of ``modalities``.

    Families with an unknown modality (``hf:``) are included as they may fit.
    """
    _load_entry_points()
    return sorted(
        _display(e.name) for e in _ENTRIES.values() if e.modality in modalities or e.modality is None
    )


def load_backbone(spec: str, **kwargs: Any) -> Backbone:
    """Build the backbone named by ``spec``.

    Args:
        spec: A registered name (``"minilm"``, ``"tiny-bert"``), a family spec (``"hf:<id-or-path>"``,
            ``"clip:<id-or-path>"``), a class spec ``"package.module:ClassName"`` (a Backbone subclass in
            an importable module) or a pair ``"<text>+<vision>"`` (``"tiny-bert+efficientnet-lite0"``)
            that fuses a language and a vision backbone into a vision-language one.
        **kwargs: Passed to the backbone's factory (for a ``+`` pair: to both sides).

    Returns:
        The backbone, in eval mode, with ``backbone.spec`` set to ``spec``.

    Raises:
        UnknownBackboneError: for an unknown name, listing the known ones.
        ConfigError: when the factory does not return a valid Backbone.
        DependencyError: when torch (the ``train`` extra) is missing.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"backbone={spec!r}: pass a backbone name such as 'minilm'; see list_backbones().")
    try:
        from rlft.policies.backbone import Backbone, TextVisionPair
    except ImportError as exc:
        from rlft.errors import extra_hint

        missing = getattr(exc, "name", None) or "torch"
        raise DependencyError(f"Backbones need {missing}.{extra_hint(missing)}") from exc

    if _is_pair(spec):
        left, _, right = spec.partition("+")
        backbone: Backbone = TextVisionPair(load_backbone(left, **kwargs), load_backbone(right, **kwargs))
    else:
        entry, arg = get_entry(spec)
        factory = entry.target if entry.source == "class" else entry.resolve()
        backbone = factory(arg, **kwargs) if arg is not None else factory(**kwargs)  # type: ignore[operator]
        if not isinstance(backbone, Backbone):
            raise ConfigError(
                f"Backbone {spec!r} ({getattr(entry.target, '__qualname__', entry.target)}) returned "
                f"{type(backbone).__name__}; a registered backbone must return an rlft.policies.Backbone."
            )
    backbone.spec = spec
    backbone.validate()
    return backbone.eval()


def load_scratch(spec: str, init_seed: int = 0, **kwargs: Any) -> Backbone:
    """The ``scratch:`` family: ``spec`` (any spec, a ``+`` pair too) with freshly initialised weights.

    Same architecture, same tokenizer; the weights depend on ``init_seed`` alone (see
    :mod:`rlft.policies.scratch`), so a checkpoint of a frozen scratch backbone rebuilds it exactly.

    Args:
        spec: The backbone whose architecture and tokenizer to keep (``"minilm"``).
        init_seed: Seed of the random weights (``PolicyConfig.backbone_kwargs={"init_seed": 3}``).
        **kwargs: Passed on to ``spec``'s own factory.

    Raises:
        ConfigError: a negative or non-integer ``init_seed``.
    """
    from rlft.policies.scratch import reinitialize

    if not isinstance(init_seed, int) or isinstance(init_seed, bool) or init_seed < 0:
        raise ConfigError(f"scratch:{spec} init_seed={init_seed!r}: pass an integer >= 0.")
    backbone = load_backbone(spec, **kwargs)
    reinitialize(backbone, init_seed)
    return backbone
