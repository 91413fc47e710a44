"""``scratch:<spec>``: the backbone ``<spec>``, same architecture and tokenizer, random weights.

The tabula-rasa control of every pretrained-versus-scratch comparison: ``scratch:minilm`` is MiniLM's
BERT with freshly initialised weights, ``scratch:minilm+efficientnet`` re-initialises both streams of the
vision-language pair. Hugging Face models get their architecture's own initialisation (a fresh model is
built from the checkpoint's config and its weights copied in); other modules (EfficientNet) get PyTorch's
``reset_parameters``. The weights depend on ``init_seed`` alone, so a policy checkpoint that stores only
the trainable tensors rebuilds the same frozen random backbone from its spec and ``backbone_kwargs``.
The registry's ``scratch:`` family (:func:`rlft.policies.registry.load_scratch`) loads the spec and calls
:func:`reinitialize`.
"""

from __future__ import annotations

from typing import Any

import torch
from rlft.errors import ConfigError

__all__ = ["reinitialize"]


def _hf_roots(module: torch.nn.Module) -> list[Any]:
    """The outermost Hugging Face ``PreTrainedModel`` instances inside ``module``."""
    from transformers import PreTrainedModel

    roots: list[Any] = []
    inside: set[int] = set()
    for child in module.modules():  # pre-order: an outer model comes before the models it holds
        if isinstance(child, PreTrainedModel) and id(child) not in inside:
            roots.append(child)
            inside.update(id(m) for m in child.modules())
    return roots


def _reinit_hf(model: Any) -> None:
    """Copy the weights of a freshly built model of ``model``'s class and config into ``model``."""
    fresh = type(model)(model.config)
    fresh_state = fresh.state_dict()
    missing = sorted(set(model.state_dict()) - set(fresh_state))
    if missing:
        raise ConfigError(
            f"scratch: a fresh {type(model).__name__} lacks the tensors {missing[:3]}; this architecture "
            "cannot be re-initialised from its config."
        )
    model.load_state_dict({name: fresh_state[name] for name in model.state_dict()})


def reinitialize(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Replace every weight of ``module`` with a fresh random initialisation drawn from ``seed`` (in place).

    The caller's global torch RNG is left as it was.

    Raises:
        ConfigError: a Hugging Face model whose fresh build lacks some of its tensors.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        roots = _hf_roots(module)
        covered = {id(m) for root in roots for m in root.modules()}
        for root in roots:
            _reinit_hf(root)
        for child in module.modules():
            reset = getattr(child, "reset_parameters", None)
            if id(child) not in covered and callable(reset):
                reset()
    return module
