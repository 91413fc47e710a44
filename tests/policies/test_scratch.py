"""``scratch:<spec>``: the same architecture and tokenizer as ``<spec>``, with seeded random weights."""

from __future__ import annotations

import pytest
import torch
from rlft.errors import ConfigError
from rlft.policies import PolicyConfig, build_policy, load_backbone, load_policy
from rlft.policies.registry import spec_modality
from rlft.policies.scratch import reinitialize

from .conftest import web_obs


def _weights(backbone: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The matrices (Linear / Embedding / Conv weights): what a fresh init always redraws."""
    return {k: v for k, v in backbone.state_dict().items() if v.dtype.is_floating_point and v.dim() >= 2}


@pytest.mark.parametrize("spec", ["tiny-bert", "tiny-gpt2", "tiny-clip", "tiny-bert+tiny-clip"])
def test_scratch_keeps_shapes_and_tokenizer_and_redraws_every_weight(spec: str) -> None:
    base = load_backbone(spec)
    scratch = load_backbone(f"scratch:{spec}", init_seed=7)
    assert scratch.spec == f"scratch:{spec}"
    assert scratch.modality == base.modality == spec_modality(f"scratch:{spec}")
    assert type(scratch) is type(base)
    base_state, scratch_state = base.state_dict(), scratch.state_dict()
    assert {k: v.shape for k, v in base_state.items()} == {k: v.shape for k, v in scratch_state.items()}
    assert scratch.tokenizer.get_vocab() == base.tokenizer.get_vocab()
    text = ["buy the red item", "click[3]"]
    assert (scratch.tokenize(text, 16)["input_ids"] == base.tokenize(text, 16)["input_ids"]).all()
    for name, weight in _weights(base).items():
        assert not torch.equal(weight, scratch_state[name]), name


def test_scratch_weights_depend_on_the_seed_alone() -> None:
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    one = load_backbone("scratch:tiny-bert", init_seed=3)
    assert torch.equal(torch.random.get_rng_state(), before)  # the caller's RNG is untouched
    again = load_backbone("scratch:tiny-bert", init_seed=3)
    other = load_backbone("scratch:tiny-bert", init_seed=4)
    for name, weight in _weights(one).items():
        assert torch.equal(weight, _weights(again)[name]), name
        assert not torch.equal(weight, _weights(other)[name]), name


def test_non_hugging_face_modules_are_reset_too() -> None:
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Linear(4, 2))
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(0.5)
    reinitialize(net, 0)
    assert not torch.equal(net[0].weight, torch.full_like(net[0].weight, 0.5))
    assert torch.equal(net[1].weight, torch.ones(4))  # BatchNorm back to its initial affine
    assert not torch.equal(net[2].weight, torch.full_like(net[2].weight, 0.5))


def test_a_frozen_scratch_policy_round_trips_through_its_checkpoint(tmp_path, web_spaces) -> None:
    config = PolicyConfig(backbone="scratch:tiny-bert", finetune="frozen", backbone_kwargs={"init_seed": 5})
    policy = build_policy(config, *web_spaces, seed=0)
    policy.save(tmp_path / "p")  # frozen weights are not stored: the spec + init_seed rebuild them
    loaded = load_policy(tmp_path / "p")
    obs = web_obs(("click[1]", "click[3]", "back"))
    assert policy.act(obs, deterministic=True) == loaded.act(obs, deterministic=True)
    for name, weight in _weights(policy.backbone).items():
        assert torch.equal(weight, _weights(loaded.backbone)[name])


def test_bad_scratch_specs_raise_typed_errors() -> None:
    with pytest.raises(ConfigError, match="needs an id or a path"):
        load_backbone("scratch:")
    with pytest.raises(ConfigError, match="init_seed"):
        load_backbone("scratch:tiny-bert", init_seed=-1)


@pytest.mark.integration
def test_scratch_minilm_efficientnet_differs_from_the_pretrained_pair() -> None:
    pretrained = load_backbone("minilm+efficientnet")
    scratch = load_backbone("scratch:minilm+efficientnet", init_seed=0)
    scratch_weights = _weights(scratch)
    assert _weights(pretrained).keys() == scratch_weights.keys()
    for name, weight in _weights(pretrained).items():
        assert not torch.equal(weight, scratch_weights[name]), name
