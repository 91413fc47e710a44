"""The embedded pretrained backbones on the real environments (slow: real weights)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rlft.agents.algorithms import make_ppo
from rlft.policies import PolicyConfig, build_policy, load_backbone

from .conftest import make_tabletop_env, make_web_env

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("backbone", "mode"), [("minilm", "lora"), ("smollm2-135m", "lora"), ("minilm+efficientnet", "frozen")]
)
def test_embedded_backbone_acts_on_web(backbone: str, mode: str) -> None:
    env = make_web_env()
    obs, _ = env.reset(seed=0)
    policy = build_policy(
        PolicyConfig(backbone=backbone, finetune=mode, max_obs_tokens=128),
        env.observation_space,
        env.action_space,
    )
    action = policy.act(obs)
    assert action in obs["admissible_commands"]
    env.step(action)
    log_prob, entropy, value = policy.evaluate_actions([obs], [obs["admissible_commands"][0]])
    assert torch.isfinite(log_prob).all() and torch.isfinite(value).all() and entropy.item() > 0


@pytest.mark.parametrize("backbone", ["minilm+efficientnet", "efficientnet-lite0"])
def test_embedded_backbone_acts_on_tabletop(backbone: str) -> None:
    env = make_tabletop_env()
    obs, _ = env.reset(seed=0)
    policy = build_policy(PolicyConfig(backbone=backbone), env.observation_space, env.action_space)
    action = policy.act(obs)
    assert env.action_space.contains(action)
    env.step(action)
    expert = np.asarray(env.unwrapped.expert_action(), dtype=np.float32)
    assert torch.isfinite(policy.evaluate_actions([obs], [expert])[0]).all()


def test_minilm_is_the_real_sentence_encoder() -> None:
    backbone = load_backbone("minilm")
    enc = backbone.tokenize(["a red cotton shirt", "a crimson cotton t-shirt", "the capital of france"], 16)
    with torch.no_grad():
        vectors = backbone.encode_text(torch.tensor(enc["input_ids"]), torch.tensor(enc["attention_mask"]))
    sims = torch.nn.functional.cosine_similarity(vectors[0:1], vectors[1:])
    assert sims[0] > sims[1] + 0.2  # paraphrases are closer than unrelated text: pretrained, not random


def test_minilm_lora_policy_trains_with_maskable_ppo() -> None:
    env = make_web_env()
    policy = build_policy(
        PolicyConfig(backbone="minilm", finetune="lora", max_obs_tokens=128, max_candidates=32),
        env.observation_space,
        env.action_space,
    )
    before = {k: v.clone() for k, v in policy.state_dict().items()}
    model = make_ppo(policy, make_web_env(), n_steps=8, batch_size=8, n_epochs=1, seed=0)
    assert all(torch.equal(before[k], v) for k, v in policy.state_dict().items())
    model.learn(8)
    assert any(not torch.equal(before[n], p) for n, p in policy.named_parameters() if "lora_B" in n)


def test_smollm2_generative_scores_match_a_plain_forward_pass() -> None:
    """Left-padded prompts + shared KV cache give the same command log-likelihoods as one plain pass."""
    env = make_web_env()
    obs, _ = env.reset(seed=0)
    policy = build_policy(
        PolicyConfig(backbone="smollm2-135m", max_obs_tokens=96), env.observation_space, env.action_space
    )
    short = dict(obs, page="", admissible_commands=obs["admissible_commands"][:3])
    batch = [dict(obs, admissible_commands=obs["admissible_commands"][:3]), short]  # different prompt lengths
    arrays = policy.encode_observations(batch)
    with torch.no_grad():
        logits, _ = policy(policy.to_tensors(arrays))
        for row in range(2):
            prompt = [
                int(t) for t, m in zip(arrays["obs_ids"][row], arrays["obs_mask"][row], strict=True) if m
            ]
            for k in range(3):
                pairs = zip(arrays["cand_ids"][row, k], arrays["cand_mask"][row, k], strict=True)
                cmd = [int(t) for t, m in pairs if m]
                lp = policy.backbone.model(input_ids=torch.tensor([prompt + cmd])).logits.log_softmax(-1)[0]
                expected = sum(lp[len(prompt) - 1 + i, t] for i, t in enumerate(cmd))
                assert torch.isclose(logits[row, k], expected, atol=2e-3, rtol=1e-4)
