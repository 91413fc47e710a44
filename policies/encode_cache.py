"""Memoising a *frozen* backbone's text encodings: the biggest speed-up available on a CPU.

With ``finetune="frozen"`` the backbone is a fixed function (it always runs in eval mode), so the
encoding of a token sequence never changes. Behaviour cloning revisits the same demonstrations every
epoch, PPO re-evaluates every rollout state ``n_epochs`` times, and web commands (``click[3]``,
``stop``) repeat across pages and episodes: caching each row's encoding removes most backbone passes.

Only the policy knows whether its backbone is frozen and whether its head reads ``encode_text``
alone, so the cache is a capability of the policy: ``policy.cache_frozen_encodings()``. The cache
wraps ``backbone.encode_text`` on that one backbone instance. A row's key is its real tokens
(the ids where the attention mask is 1), so the same text padded to different lengths shares an entry.
Rows already cached are looked up; the others are encoded in one batched call and stored. It is never
installed for causal-LM scoring, which does not use ``encode_text``'s output alone.

A backbone that trains (LoRA, full) is a fixed function only *between* weight updates: evaluation,
PPO rollouts and BC validation run many decisions on the same weights. For it the cache is
*versioned*: it is used only without gradients and in eval mode, and its entries are dropped whenever
a trainable parameter changes (the key is each parameter's in-place version counter, which every
optimizer step and ``load_state_dict`` bump). With gradients enabled the backbone runs as usual.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

__all__ = [
    "FrozenImageCache",
    "FrozenTextCache",
    "cache_frozen_images",
    "cache_frozen_text",
    "cache_frozen_tokens",
]

logger = logging.getLogger(__name__)


class FrozenTextCache:
    """An LRU cache in front of one frozen backbone's ``encode_text`` (or ``encode_tokens``).

    Args:
        encode: the original bound ``encode_text`` (``[B, L] -> [B, H]``) or, with ``per_token``,
            ``encode_tokens`` (``[B, L] -> [B, L, H]``, right-padded rows).
        max_entries: rows kept (each one ``hidden_size`` vector, or one per real token).
        version: see the module docstring.
        per_token: cache per-token states; a row's entry holds the states of its real tokens, and the
            padding positions of a returned batch are zeros (every reader masks them).
        max_bytes: also evict the least recently used rows beyond this many bytes of cached tensors.
    """

    def __init__(
        self,
        encode: Any,
        max_entries: int = 100_000,
        version: Any = None,
        per_token: bool = False,
        max_bytes: int | None = None,
    ) -> None:
        self.encode = encode
        self.max_entries = max_entries
        self.per_token = per_token
        self.max_bytes = max_bytes
        self.bytes = 0
        # None for a frozen backbone; else a callable whose value changes with the weights (None while
        # the cache must not be used: training mode).
        self.version = version
        self._version: Any = None
        self.entries: OrderedDict[bytes, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def _usable(self) -> bool:
        """Whether the cache may answer now (versioned caches: no gradients, eval mode); clears stale rows."""
        import torch

        if self.version is None:
            return True
        if torch.is_grad_enabled():
            return False
        version = self.version()
        if version is None:
            return False
        if version != self._version:
            self.entries.clear()
            self.bytes = 0
            self._version = version
        return True

    def _fetch(self, keys: list[bytes], encode_rows: Any) -> list[Any]:
        """The cached values of ``keys``; ``encode_rows(indices)`` computes the missing rows in one call."""
        import torch

        missing = [i for i, key in enumerate(keys) if key not in self.entries]
        # Duplicate rows inside one batch are encoded once.
        first: dict[bytes, int] = {}
        for i in missing:
            first.setdefault(keys[i], i)
        if first:
            with torch.no_grad():
                encoded = encode_rows(list(first.values()))
            for key, value in zip(first, encoded, strict=True):
                self.entries[key] = value
                self.bytes += value.element_size() * value.nelement()
        self.misses += len(first)
        self.hits += len(keys) - len(first)
        values = []
        for key in keys:
            self.entries.move_to_end(key)
            values.append(self.entries[key])
        while len(self.entries) > self.max_entries or (
            self.max_bytes is not None and self.bytes > self.max_bytes and len(self.entries) > len(keys)
        ):
            _, dropped = self.entries.popitem(last=False)
            self.bytes -= dropped.element_size() * dropped.nelement()
        return values

    def __call__(self, input_ids: Any, attention_mask: Any) -> Any:
        """Encode ``[B, L]`` token rows, computing only the rows not seen before."""
        import torch

        if not self._usable():
            return self.encode(input_ids, attention_mask)
        ids = input_ids.detach().cpu().numpy()
        mask = attention_mask.detach().cpu().numpy() > 0
        keys = [ids[i][mask[i]].tobytes() for i in range(ids.shape[0])]

        def encode_rows(indices: list[int]) -> list[Any]:
            rows = torch.as_tensor(indices, device=input_ids.device)
            encoded = self.encode(input_ids[rows], attention_mask[rows])
            if not self.per_token:
                return list(encoded)
            return [
                value[torch.as_tensor(mask[i], device=value.device)].clone()
                for i, value in zip(indices, encoded, strict=True)
            ]

        values = self._fetch(keys, encode_rows)
        if not self.per_token:
            return torch.stack(values)
        out = values[0].new_zeros((len(keys), ids.shape[1], values[0].shape[-1]))
        for i, value in enumerate(values):
            out[i, torch.as_tensor(mask[i], device=out.device)] = value
        return out


class FrozenImageCache(FrozenTextCache):
    """The same LRU cache in front of ``encode_image`` (``[B, 3, H, W] -> [B, C, h, w]``).

    A row's key is a 16-byte BLAKE2 digest of the image's shape and pixels, so a demonstration's frame
    seen again in a later BC epoch, or a comparison's final frame in every reward-model epoch, is
    encoded once.
    """

    def __call__(self, images: Any) -> Any:  # type: ignore[override]
        """Encode ``[B, 3, H, W]`` images, computing only those not seen before."""
        import hashlib

        import torch

        if not self._usable():
            return self.encode(images)
        pixels = images.detach().cpu().contiguous().numpy()
        keys = [
            hashlib.blake2b(str(row.shape).encode() + row.tobytes(), digest_size=16).digest()
            for row in pixels
        ]

        def encode_rows(indices: list[int]) -> list[Any]:
            return list(self.encode(images[torch.as_tensor(indices, device=images.device)]))

        return torch.stack(self._fetch(keys, encode_rows))


def weights_version(backbone: Any) -> Any:
    """A callable: ``None`` in training mode, else the in-place versions of the trainable parameters."""
    trainable = [p for p in backbone.parameters() if p.requires_grad]

    def version() -> Any:
        if backbone.training:
            return None
        return tuple(p._version for p in trainable)

    return version


def _install(
    backbone: Any, method: str, kind: type[FrozenTextCache] = FrozenTextCache, **kwargs: Any
) -> FrozenTextCache | None:
    """Shadow ``backbone.<method>`` with a ``kind`` cache (versioned when a parameter trains); idempotent."""
    trains = any(p.requires_grad for p in backbone.parameters())
    current = backbone.__dict__.get(method)
    if isinstance(current, FrozenTextCache):
        return current
    if method not in dir(backbone):
        return None
    version = weights_version(backbone) if trains else None
    cache = kind(getattr(backbone, method), version=version, **kwargs)
    # An instance attribute shadows the method for this backbone object only.
    object.__setattr__(backbone, method, cache)
    logger.info(
        "caching %s %s of %s",
        "inference-time" if trains else "frozen",
        method,
        getattr(backbone, "spec", type(backbone).__name__),
    )
    return cache


def cache_frozen_text(backbone: Any, max_entries: int = 100_000) -> FrozenTextCache | None:
    """Install a :class:`FrozenTextCache` on ``backbone.encode_text``.

    Policies call this through :meth:`~rlft.policies.AgentPolicy.cache_frozen_encodings`, which also
    knows whether the head reads ``encode_text`` on its own. Idempotent. Returns the cache, or ``None``
    when the backbone has no text encoder, in which case nothing changes.
    """
    return _install(backbone, "encode_text", max_entries=max_entries)


def _default_token_cache_bytes() -> int:
    """A quarter of the machine's physical memory, clamped to [1, 16] GiB (2 GiB when unknown)."""
    import os

    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return 2 * 1024**3
    return int(min(max(physical // 4, 1024**3), 16 * 1024**3))


TOKEN_CACHE_BYTES = _default_token_cache_bytes()
"""Default memory bound of a per-token cache: a quarter of physical memory, 1-16 GiB (a 256-token MiniLM
row is ~0.4 MB; multi-task web BC over ~7,000 states with 192-token pages needs several GiB, and a
cache smaller than one epoch's rows evicts every row before it is reused)."""


def cache_frozen_tokens(
    backbone: Any, max_entries: int = 100_000, max_bytes: int = TOKEN_CACHE_BYTES
) -> FrozenTextCache | None:
    """Install a per-token :class:`FrozenTextCache` on ``backbone.encode_tokens`` (token scorers).

    Bounded by ``max_bytes`` as well as ``max_entries`` (per-token states are large). Returns ``None``
    when the backbone has no per-token encoder.
    """
    from rlft.policies.backbone import Backbone

    if type(backbone).encode_tokens is Backbone.encode_tokens:
        return None
    return _install(backbone, "encode_tokens", max_entries=max_entries, per_token=True, max_bytes=max_bytes)


def cache_frozen_images(backbone: Any, max_entries: int = 100_000) -> FrozenTextCache | None:
    """Install a :class:`FrozenImageCache` on ``backbone.encode_image``, bounded by :data:`TOKEN_CACHE_BYTES`.

    Returns ``None`` when the backbone encodes no images.
    """
    from rlft.policies.backbone import Backbone

    if type(backbone).encode_image is Backbone.encode_image:
        return None
    return _install(
        backbone, "encode_image", FrozenImageCache, max_entries=max_entries, max_bytes=TOKEN_CACHE_BYTES
    )
