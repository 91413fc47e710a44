"""Save / load: safetensors + JSON, exact round-trips, typed errors, nothing unpickled."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from rlft.errors import CheckpointError
from rlft.policies import PolicyConfig, build_policy, load_policy

from .conftest import tabletop_obs, web_obs

COMMANDS = ("click[1]", "click[3]", "search[red cotton shirt]", "back")


def _perturb(policy) -> None:
    """Make trained tensors differ from a fresh build (LoRA B starts at zero)."""
    with torch.no_grad():
        for p in policy.trainable_parameters():
            p.add_(torch.randn_like(p) * 0.05)


def _assert_same(a, b) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize(
    ("backbone", "mode"), [("tiny-bert", "lora"), ("tiny-gpt2", "full"), ("tiny-gpt2", "lora")]
)
def test_web_round_trip_is_exact(backbone: str, mode: str, web_spaces, tmp_path: Path, monkeypatch) -> None:
    policy = build_policy(PolicyConfig(backbone=backbone, finetune=mode, lora_rank=2), *web_spaces)
    _perturb(policy)
    policy.save(tmp_path)
    meta = json.loads((tmp_path / "config.json").read_text())
    assert meta["policy_config"]["finetune"] == mode and meta["head_kind"] == policy.head_kind
    if mode == "lora":
        assert any("lora_A" in n for n in meta["stored_tensors"])
        assert not any(n.endswith("query.base_layer.weight") for n in meta["stored_tensors"])

    def no_unpickling(*args, **kwargs):
        raise AssertionError("load_policy must not unpickle")

    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    monkeypatch.setattr(torch, "load", no_unpickling)
    loaded = load_policy(tmp_path)
    _assert_same(policy, loaded)
    obs = [web_obs(COMMANDS)]
    assert torch.equal(policy.evaluate_actions(obs, ["back"])[0], loaded.evaluate_actions(obs, ["back"])[0])


def test_tabletop_round_trip_with_frozen_weights_included(tabletop_spaces, tmp_path: Path) -> None:
    policy = build_policy(PolicyConfig(backbone="tiny-clip", grid_size=8), *tabletop_spaces)
    _perturb(policy)
    policy.save(tmp_path, include_frozen=True)
    loaded = load_policy(tmp_path)
    _assert_same(policy, loaded)
    assert np.array_equal(policy.act(tabletop_obs()), loaded.act(tabletop_obs()))


def test_corrupt_or_missing_files_raise_checkpoint_error(web_spaces, tmp_path: Path) -> None:
    policy = build_policy(PolicyConfig(backbone="tiny-bert", finetune="lora"), *web_spaces)
    with pytest.raises(CheckpointError, match=r"config\.json"):
        load_policy(tmp_path / "empty")
    policy.save(tmp_path)
    weights = tmp_path / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_policy(tmp_path)
    weights.unlink()
    with pytest.raises(CheckpointError, match=r"model\.safetensors"):
        load_policy(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_policy(tmp_path)


def test_changed_frozen_weights_are_detected(web_spaces, tmp_path: Path) -> None:
    policy = build_policy(PolicyConfig(backbone="tiny-bert", finetune="lora"), *web_spaces)
    policy.save(tmp_path)
    meta = json.loads((tmp_path / "config.json").read_text())
    meta["policy_config"]["backbone_kwargs"] = {"seed": 1}  # another set of "pretrained" weights
    (tmp_path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="frozen weights"):
        load_policy(tmp_path)
