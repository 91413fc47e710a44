"""The SB3 bridge on the real environments: wrappers, PPO / MaskablePPO, weight preservation, optimizer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from rlft.agents.algorithms import make_ppo
from rlft.policies import PolicyConfig, build_policy, load_policy
from rlft.policies.sb3 import (
    RlftActorCriticPolicy,
    RlftMaskablePolicy,
    agent_policy_from_sb3,
    make_sb3_env,
)
from stable_baselines3.common.env_checker import check_env

from .conftest import make_tabletop_env, make_web_env


def _snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_web_wrapper_is_a_valid_sb3_env() -> None:
    env = make_web_env()
    policy = build_policy(
        PolicyConfig(backbone="tiny-bert", max_candidates=32, max_obs_tokens=64),
        env.observation_space,
        env.action_space,
    )
    wrapped = make_sb3_env(env, policy)
    check_env(wrapped, warn=False)
    obs, _ = wrapped.reset(seed=0)
    assert wrapped.observation_space.contains(obs)
    raw = wrapped.last_raw_observation
    commands = list(raw["admissible_commands"])
    mask = wrapped.action_masks()
    assert 1 < len(commands) <= 32 and mask.tolist() == [i < len(commands) for i in range(32)]
    # The expert's command round-trips through its discrete index, and stepping that index plays it.
    expert = env.unwrapped.expert_action()
    index = policy.action_to_index(raw, expert)
    assert commands[index] == expert and policy.index_to_action(raw, index) == expert
    _, _, _, _, info = wrapped.step(index)
    assert info["last_action_error"] == ""


@pytest.mark.parametrize("maskable", [True, False])
def test_ppo_on_web_keeps_pretrained_weights_and_trains_only_trainable(
    maskable: bool, tmp_path: Path
) -> None:
    env = make_web_env()
    policy = build_policy(
        PolicyConfig(backbone="tiny-bert", finetune="lora", max_candidates=24, max_obs_tokens=64),
        env.observation_space,
        env.action_space,
    )
    before = _snapshot(policy)
    model = make_ppo(policy, make_web_env(), maskable=maskable, n_steps=16, batch_size=8, n_epochs=1, seed=0)
    assert isinstance(model.policy, RlftMaskablePolicy if maskable else RlftActorCriticPolicy)
    # SB3's orthogonal init must not touch anything; the SB3 policy *is* the AgentPolicy's modules.
    assert all(torch.equal(before[k], v) for k, v in policy.state_dict().items())
    assert agent_policy_from_sb3(model) is policy
    # Built through SB3's public constructor arguments (no private _build override), and SB3 adds no
    # parameters of its own: the SB3 policy's parameters are exactly the AgentPolicy's.
    assert all("_build" not in vars(cls) for cls in type(model.policy).__mro__ if "rlft" in cls.__module__)
    assert {id(p) for p in model.policy.parameters()} == {id(p) for p in policy.parameters()}
    optimized = {id(p) for group in model.policy.optimizer.param_groups for p in group["params"]}
    assert optimized == {id(p) for p in policy.trainable_parameters()}
    assert all(
        not p.requires_grad
        for n, p in policy.named_parameters()
        if n.startswith("backbone.") and "lora_" not in n
    )
    model.learn(16)
    after = policy.state_dict()
    frozen = [n for n, p in policy.named_parameters() if not p.requires_grad]
    assert frozen and all(torch.equal(before[n], after[n]) for n in frozen)
    assert any(not torch.equal(before[n], after[n]) for n, p in policy.named_parameters() if p.requires_grad)
    policy.save(tmp_path)
    loaded = load_policy(tmp_path)
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in policy.state_dict().items())


def test_generative_policy_trains_with_maskable_ppo() -> None:
    env = make_web_env()
    policy = build_policy(
        PolicyConfig(backbone="tiny-gpt2", finetune="lora", max_candidates=24, max_obs_tokens=64),
        env.observation_space,
        env.action_space,
    )
    model = make_ppo(policy, make_web_env(), n_steps=8, batch_size=8, n_epochs=1, seed=0)
    model.learn(8)
    obs, _ = env.reset(seed=1)
    assert policy.act(obs) in obs["admissible_commands"]


def test_ppo_on_tabletop_with_multidiscrete_pick_place() -> None:
    env = make_tabletop_env()
    policy = build_policy(
        PolicyConfig(backbone="tiny-clip", finetune="lora", grid_size=8, yaw_bins=5),
        env.observation_space,
        env.action_space,
    )
    wrapped = make_sb3_env(make_tabletop_env(), policy)
    obs, _ = wrapped.reset(seed=0)
    assert wrapped.observation_space.contains(obs) and obs["rgb"].shape[0] == 3
    before = _snapshot(policy)
    model = make_ppo(policy, wrapped, n_steps=4, batch_size=4, n_epochs=1, seed=0)
    assert all(torch.equal(before[k], v) for k, v in policy.state_dict().items())
    model.learn(4)
    assert any(not torch.equal(before[n], p) for n, p in policy.named_parameters() if p.requires_grad)
    raw, _ = env.reset(seed=0)
    action = policy.act(raw)
    assert env.action_space.contains(action)
    expert = np.asarray(env.unwrapped.expert_action(), dtype=np.float32)
    log_prob = policy.evaluate_actions([raw], [expert])[0]
    assert torch.isfinite(log_prob).all()


def test_top_down_policy_on_a_heightmap_env(tmp_path: Path) -> None:
    import gymnasium as gym

    env = gym.make("rlft/TabletopPutBlockInBowl-v0", heightmap=True)
    policy = build_policy(
        PolicyConfig(backbone="tiny-clip", grid_size=16, yaw_bins=5), env.observation_space, env.action_space
    )
    assert policy.interface.image_key == "colormap"
    obs, _ = env.reset(seed=0)
    assert env.action_space.contains(policy.act(obs))
    policy.save(tmp_path)
    assert load_policy(tmp_path).interface == policy.interface


def test_web_wrapper_caps_candidates_at_k_and_maps_empty_slots_to_a_noop(caplog) -> None:
    env = make_web_env()
    policy = build_policy(
        PolicyConfig(backbone="tiny-bert", max_obs_tokens=32), env.observation_space, env.action_space
    )
    wrapped = make_sb3_env(env, policy, num_candidates=4)
    with caplog.at_level("WARNING"):
        obs, _ = wrapped.reset(seed=0)
    assert "not selectable" in caplog.text
    assert obs["cand_valid"].tolist() == [1, 1, 1, 1] and wrapped.action_masks().all()
    first = wrapped.last_raw_observation["admissible_commands"][0]
    assert policy.index_to_action(wrapped.last_raw_observation, 0) == first
    assert policy.index_to_action(wrapped.last_raw_observation, 10_000) == ""
    _, _, _, _, info = wrapped.step(0)
    assert "success" in info


def test_the_algorithm_follows_the_policys_action_masks(web_spaces, tabletop_spaces) -> None:
    from rlft.agents.algorithms import use_maskable
    from rlft.errors import ConfigError

    web = build_policy(PolicyConfig(backbone="tiny-bert"), *web_spaces)
    table = build_policy(PolicyConfig(backbone="tiny-clip", grid_size=8, yaw_bins=3), *tabletop_spaces)
    assert use_maskable("auto", web) and not use_maskable("auto", table)
    assert not use_maskable("ppo", web) and use_maskable("maskable_ppo", web)
    with pytest.raises(ConfigError, match="TabletopPolicy has none: use ppo"):
        use_maskable("maskable_ppo", table)
    with pytest.raises(ConfigError, match="Did you mean 'ppo'"):
        use_maskable("ppo2", web)
