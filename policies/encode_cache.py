"""Memoising a *frozen* backbone's text encodings: the biggest speed-up available on a CPU.

With ``finetune="frozen"`` the backbone is a fixed function (it always runs in eval mode), so the
encoding of a token sequence never changes. Behaviour cloning revisits the same demonstrations every
epoch, PPO re-evaluates every rollout state ``n_epochs`` times, and web commands (``click[3]``,
``stop``) repeat across pages and episodes: caching each row's encoding removes most backbone passes.

Only the policy knows whether its backbone is frozen and whether its head reads ``encode_text``
alone, so the cache is a capability of the policy: ``policy.cache_frozen_encodings()``. The cache
wraps ``backbone.encode_text`` on that one backbone instance. A row's key is its real tokens
(the ids where the attention mask is 1), so the same text padded to different lengths shares an entry.
Rows already cached are looked up; the others are encoded in one batched call and stored. It is only
installed when no backbone parameter requires a gradient (LoRA and full fine-tuning change the
function, so they are never cached) and never for causal-LM scoring, which does not use
``encode_text``'s output alone.
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

    def __init__(self, encode: Any, max_entries: int = 100_000) -> None:
        self.encode = encode
        self.max_entries = max_entries
        self.entries: OrderedDict[bytes, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __call__(self, input_ids: Any, attention_mask: Any) -> Any:
        """Encode ``[B, L]`` token rows, computing only the rows not seen before."""
        import torch

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


def cache_frozen_text(backbone: Any, max_entries: int = 100_000) -> FrozenTextCache | None:
    """Install a :class:`FrozenTextCache` on ``backbone`` when none of its parameters trains.

    Policies call this through :meth:`~rlft.policies.AgentPolicy.cache_frozen_encodings`, which also
    knows whether the head reads ``encode_text`` on its own. Idempotent. Returns the cache, or ``None``
    when the backbone trains (LoRA / full) or has no text encoder, in which case nothing changes.
    """
    if any(p.requires_grad for p in backbone.parameters()):
        return None
    current = backbone.__dict__.get("encode_text")
    if isinstance(current, FrozenTextCache):
        return current
    if "encode_text" not in dir(backbone):
        return None
    cache = FrozenTextCache(backbone.encode_text, max_entries)
    # An instance attribute shadows the method for this backbone object only.
    object.__setattr__(backbone, "encode_text", cache)
    logger.info("caching frozen text encodings of %s", getattr(backbone, "spec", type(backbone).__name__))
    return cache
