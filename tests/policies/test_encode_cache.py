"""The text cache returns exactly what the backbone computes (trainable backbones: until weights change)."""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch
from rlft.policies import PolicyConfig, build_policy
from rlft.policies.encode_cache import FrozenTextCache

SCORERS = ("biencoder", "late_interaction", "cross_attention")


def _policy(finetune: str, scorer: str = "biencoder"):
    env = gym.make("rlft/WebShop-v0")
    policy = build_policy(
        PolicyConfig(backbone="tiny-bert", finetune=finetune, scorer=scorer),
        env.observation_space,
        env.action_space,
    )
    obs = [env.reset(seed=s)[0] for s in range(3)]
    env.close()
    return policy, obs


@pytest.mark.parametrize("scorer", SCORERS)
def test_cached_scores_equal_uncached_scores(scorer: str) -> None:
    policy, obs = _policy("frozen", scorer)
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


@pytest.mark.parametrize("scorer", SCORERS)
@pytest.mark.parametrize("finetune", ["lora", "full"])
def test_trainable_backbones_are_cached_only_between_weight_updates(finetune: str, scorer: str) -> None:
    policy, obs = _policy(finetune, scorer)
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


def test_token_scorers_cache_token_states_and_the_generative_head_nothing() -> None:
    env = gym.make("rlft/WebShop-v0")
    policy = build_policy(
        PolicyConfig(backbone="tiny-bert", finetune="frozen", scorer="cross_attention"),
        env.observation_space,
        env.action_space,
    )
    cache = policy.cache_frozen_encodings()
    assert isinstance(cache, FrozenTextCache) and cache.per_token
    assert "encode_tokens" in policy.backbone.__dict__ and "encode_text" not in policy.backbone.__dict__
    generative = build_policy(
        PolicyConfig(backbone="tiny-gpt2", finetune="frozen"), env.observation_space, env.action_space
    )
    assert generative.cache_frozen_encodings() is None
    assert "encode_text" not in generative.backbone.__dict__
    env.close()


def test_token_cache_is_bounded_in_bytes() -> None:
    def encode(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return ids.float().unsqueeze(-1).expand(-1, -1, 4).clone()

    cache = FrozenTextCache(encode, per_token=True, max_bytes=3 * 5 * 4 * 4)
    ids = torch.arange(1, 31).reshape(6, 5)
    mask = torch.ones_like(ids)
    mask[0, 3:] = 0
    out = cache(ids, mask)
    # Real positions hold the states, padding positions zeros; rows beyond the byte budget are evicted.
    assert torch.equal(out[0, :3, 0], ids[0, :3].float()) and torch.equal(out[0, 3:], torch.zeros(2, 4))
    assert torch.equal(out[1:, :, 0], ids[1:].float())
    assert len(cache.entries) <= 6 and cache.bytes == sum(v.nelement() * 4 for v in cache.entries.values())
    cache(ids[4:], mask[4:])
    assert len(cache.entries) == 3 and cache.bytes <= 3 * 5 * 4 * 4


def test_image_cache_encodes_each_frame_once_and_returns_the_same_maps() -> None:
    from rlft.policies.encode_cache import FrozenImageCache, cache_frozen_images
    from rlft.policies.registry import load_backbone

    backbone = load_backbone("tiny-clip").eval()
    for p in backbone.parameters():
        p.requires_grad_(False)
    images = torch.rand(3, 3, 24, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        plain = backbone.encode_image(images)
    cache = cache_frozen_images(backbone)
    assert isinstance(cache, FrozenImageCache) and cache_frozen_images(backbone) is cache  # idempotent
    with torch.no_grad():
        first = backbone.encode_image(images)
        again = backbone.encode_image(torch.cat([images[1:], images[:1]]))  # same frames, other order
    assert cache.misses == 3 and cache.hits == 3
    torch.testing.assert_close(first, plain)
    torch.testing.assert_close(again, torch.cat([plain[1:], plain[:1]]))
    other = images.clone()
    other[0, 0, 0, 0] += 0.5  # one pixel differs: another frame
    backbone.encode_image(other)
    assert cache.misses == 4
    assert cache_frozen_images(load_backbone("tiny-bert")) is None  # no image encoder
