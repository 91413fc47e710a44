"""The text cache returns exactly what the backbone computes (trainable backbones: until weights change)."""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch
from rlft.policies import PolicyConfig, build_policy
from rlft.policies.encode_cache import FrozenTextCache


def _policy(finetune: str):
    env = gym.make("rlft/WebShop-v0")
    policy = build_policy(
        PolicyConfig(backbone="tiny-bert", finetune=finetune), env.observation_space, env.action_space
    )
    obs = [env.reset(seed=s)[0] for s in range(3)]
    env.close()
    return policy, obs


def test_cached_scores_equal_uncached_scores() -> None:
    policy, obs = _policy("frozen")
    actions = [o["admissible_commands"][1] for o in obs]
    with torch.no_grad():
        expected = policy.evaluate_actions(obs, actions)[0]
    cache = policy.cache_frozen_encodings()
    assert isinstance(cache, FrozenTextCache) and policy.cache_frozen_encodings() is cache
    with torch.no_grad():
        first = policy.evaluate_actions(obs, actions)[0]
        second = policy.evaluate_actions(obs[::-1], actions[::-1])[0]
    torch.testing.assert_close(first, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(second, expected.flip(0), atol=1e-5, rtol=1e-5)
    assert cache.hits > 0 and cache.misses > 0
    # Gradients still reach the head through the cached encodings.
    policy.train()
    loss = -policy.evaluate_actions(obs, actions)[0].mean()
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in policy.head.parameters())


@pytest.mark.parametrize("finetune", ["lora", "full"])
def test_trainable_backbones_are_cached_only_between_weight_updates(finetune: str) -> None:
    policy, obs = _policy(finetune)
    actions = [o["admissible_commands"][1] for o in obs]
    cache = policy.cache_frozen_encodings()
    assert isinstance(cache, FrozenTextCache)
    with torch.no_grad():
        first = policy.evaluate_actions(obs, actions)[0]
        again = policy.evaluate_actions(obs, actions)[0]
    torch.testing.assert_close(again, first)
    assert cache.hits > 0
    # Training passes bypass the cache: gradients reach the trainable backbone weights.
    policy.train()
    hits = cache.hits
    loss = -policy.evaluate_actions(obs, actions)[0].mean()
    loss.backward()
    assert cache.hits == hits
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in policy.backbone.parameters())
    torch.optim.SGD(policy.trainable_parameters(), lr=1.0).step()
    # After the update the cached encodings are stale: they are dropped and recomputed.
    policy.train(False)
    with torch.no_grad():
        after = policy.evaluate_actions(obs, actions)[0]
        cache.entries.clear()
        fresh = policy.evaluate_actions(obs, actions)[0]
    torch.testing.assert_close(after, fresh)
    assert not torch.allclose(after, first)


def test_late_interaction_and_generative_heads_are_not_cached() -> None:
    env = gym.make("rlft/WebShop-v0")
    for config in (
        PolicyConfig(backbone="tiny-bert", finetune="frozen", scorer="late_interaction"),
        PolicyConfig(backbone="tiny-gpt2", finetune="frozen"),
    ):
        policy = build_policy(config, env.observation_space, env.action_space)
        assert policy.cache_frozen_encodings() is None
        assert "encode_text" not in policy.backbone.__dict__
    env.close()
