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

__all__ = ["FrozenTextCache", "cache_frozen_text"]

logger = logging.getLogger(__name__)


class FrozenTextCache:
    """An LRU cache in front of one frozen backbone's ``encode_text``.

    Args:
        encode: the original bound ``encode_text``.
        max_entries: rows kept (each is one ``hidden_size`` float vector).
    """

    def __init__(self, encode: Any, max_entries: int = 100_000, version: Any = None) -> None:
        self.encode = encode
        self.max_entries = max_entries
        # None for a frozen backbone; else a callable whose value changes with the weights (None while
        # the cache must not be used: training mode).
        self.version = version
        self._version: Any = None
        self.entries: OrderedDict[bytes, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __call__(self, input_ids: Any, attention_mask: Any) -> Any:
        """Encode ``[B, L]`` token rows, computing only the rows not seen before."""
        import torch

        if self.version is not None:
            if torch.is_grad_enabled():
                return self.encode(input_ids, attention_mask)
            version = self.version()
            if version is None:
                return self.encode(input_ids, attention_mask)
            if version != self._version:
                self.entries.clear()
                self._version = version

        ids = input_ids.detach().cpu().numpy()
        mask = attention_mask.detach().cpu().numpy() > 0
        keys = [ids[i][mask[i]].tobytes() for i in range(ids.shape[0])]
        missing = [i for i, key in enumerate(keys) if key not in self.entries]
        # Duplicate rows inside one batch are encoded once.
        first: dict[bytes, int] = {}
        for i in missing:
            first.setdefault(keys[i], i)
        if first:
            rows = torch.as_tensor(list(first.values()), device=input_ids.device)
            with torch.no_grad():
                encoded = self.encode(input_ids[rows], attention_mask[rows])
            for key, vector in zip(first, encoded, strict=True):
                self.entries[key] = vector
        self.misses += len(first)
        self.hits += len(keys) - len(first)
        out = []
        for key in keys:
            self.entries.move_to_end(key)
            out.append(self.entries[key])
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)
        return torch.stack(out)


def weights_version(backbone: Any) -> Any:
    """A callable: ``None`` in training mode, else the in-place versions of the trainable parameters."""
    trainable = [p for p in backbone.parameters() if p.requires_grad]

    def version() -> Any:
        if backbone.training:
            return None
        return tuple(p._version for p in trainable)

    return version


def cache_frozen_text(backbone: Any, max_entries: int = 100_000) -> FrozenTextCache | None:
    """Install a :class:`FrozenTextCache` on ``backbone`` (versioned when some parameter trains).

    Policies call this through :meth:`~rlft.policies.AgentPolicy.cache_frozen_encodings`, which also
    knows whether the head reads ``encode_text`` on its own. Idempotent. Returns the cache, or ``None``
    when the backbone has no text encoder, in which case nothing changes.
    """
    trains = any(p.requires_grad for p in backbone.parameters())
    current = backbone.__dict__.get("encode_text")
    if isinstance(current, FrozenTextCache):
        return current
    if "encode_text" not in dir(backbone):
        return None
    cache = FrozenTextCache(backbone.encode_text, max_entries, weights_version(backbone) if trains else None)
    # An instance attribute shadows the method for this backbone object only.
    object.__setattr__(backbone, "encode_text", cache)
    logger.info(
        "caching %s text encodings of %s",
        "inference-time" if trains else "frozen",
        getattr(backbone, "spec", type(backbone).__name__),
    )
    return cache
