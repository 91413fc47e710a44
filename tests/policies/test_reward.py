"""Reward models: padding side, pad token = EOS, batching, checkpoints, typed errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from rlft.errors import CheckpointError, ConfigError, ModalityError
from rlft.policies import PolicyConfig, build_policy
from rlft.policies.reward import RewardModel, RewardModelConfig, load_reward_model, right_align

INSTRUCTIONS = ["buy a red cotton shirt", "i want blue shoes under 20 dollars", "buy a hat"]
EPISODES = [
    "search red cotton shirt click red cotton shirt buy",
    "search blue shoes click item next page click blue leather shoes price 18 dollars size small buy",
    "back",
]


def _perturb(model: RewardModel) -> None:
    with torch.no_grad():
        for p in model.trainable_parameters():
            p.add_(torch.randn_like(p) * 0.1)


@pytest.mark.parametrize("backbone", ["tiny-bert", "tiny-gpt2"])
def test_left_and_right_padded_batches_pool_the_same(backbone: str) -> None:
    # finetune="full": no encoding cache, so every call really runs the backbone on its padded rows.
    model = RewardModel(RewardModelConfig(backbone=backbone, finetune="full", head_hidden=8))
    assert model.cache is None
    right = model.encode_tokens(*model.tokenize(EPISODES, 64, padding_side="right"))
    left_ids, left_mask = model.tokenize(EPISODES, 64, padding_side="left")
    assert left_mask[2, 0] == 0 and left_mask[2, -1] == 1  # the short row really is left-padded
    left = model.encode_tokens(left_ids, left_mask)
    alone = torch.cat([model.encode_tokens(*model.tokenize([text], 64)) for text in EPISODES])
    torch.testing.assert_close(left, right, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(alone, right, atol=1e-5, rtol=1e-4)


def test_right_align_keeps_token_order() -> None:
    ids = torch.tensor([[0, 0, 5, 6, 7], [1, 2, 3, 0, 0]])
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 0, 0]])
    aligned_ids, aligned_mask = right_align(ids, mask)
    assert aligned_ids.tolist() == [[5, 6, 7, 0, 0], [1, 2, 3, 0, 0]]
    assert aligned_mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 0, 0]]


def _causal_without_pad_token() -> RewardModel:
    """A tiny GPT-2 whose tokenizer has no pad token and no CLS/SEP: only EOS (GPT-2's situation)."""
    from rlft.policies.hf import HFCausalLMBackbone
    from rlft.policies.tiny import TinyGPT2Backbone, tiny_tokenizer
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(
        tokenizer_object=tiny_tokenizer().backend_tokenizer, eos_token="[SEP]", unk_token="[UNK]"
    )
    assert tok.pad_token is None
    backbone = HFCausalLMBackbone(TinyGPT2Backbone().model, tok)
    backbone.spec = "tiny-gpt2"
    return RewardModel(RewardModelConfig(backbone="tiny-gpt2", finetune="full", head_hidden=8), backbone)


def test_pad_token_equal_to_eos_pools_the_real_last_token() -> None:
    model = _causal_without_pad_token()
    tok = model.backbone.tokenizer
    assert tok.pad_token_id == tok.eos_token_id  # padding with EOS, as causal LMs must
    # An EOS inside the text, the appended EOS and the EOS padding all share one id.
    texts = [
        "click buy [SEP] red shirt",
        "click buy [SEP] blue shoes",
        "click buy [SEP] red shirt size small",
    ]
    ids, mask = model.tokenize(texts, 64)
    eos = tok.eos_token_id
    assert (ids[0] == eos).sum() >= 3 and ids[0, mask[0].sum() - 1] == eos
    vectors = model.encode_tokens(ids, mask)
    # Pooling at the first EOS would read only "click buy": the two first rows would then be equal.
    assert not torch.allclose(vectors[0], vectors[1])
    alone = torch.cat([model.encode_tokens(*model.tokenize([t], 64)) for t in texts])
    torch.testing.assert_close(vectors, alone, atol=1e-5, rtol=1e-4)
    left = model.encode_tokens(*model.tokenize(texts, 64, padding_side="left"))
    torch.testing.assert_close(left, alone, atol=1e-5, rtol=1e-4)


def test_long_episodes_keep_their_end_and_instructions_their_start() -> None:
    model = RewardModel(RewardModelConfig(backbone="tiny-bert", head_hidden=8))
    tok = model.backbone.tokenizer
    ids, _ = model.tokenize(["search shirt click item buy"], 2, keep="end")
    assert tok.convert_ids_to_tokens(ids[0].tolist()) == ["[CLS]", "item", "buy", "[SEP]"]
    ids, _ = model.tokenize(["search shirt click item buy"], 2, keep="start")
    assert tok.convert_ids_to_tokens(ids[0].tolist()) == ["[CLS]", "search", "shirt", "[SEP]"]


@pytest.mark.parametrize(
    ("backbone", "mode"), [("tiny-bert", "frozen"), ("tiny-bert", "full"), ("tiny-gpt2", "lora")]
)
def test_scores_do_not_depend_on_batching_and_round_trip(backbone: str, mode: str, tmp_path: Path) -> None:
    model = RewardModel(RewardModelConfig(backbone=backbone, finetune=mode, lora_rank=2, head_hidden=8))
    _perturb(model)
    scores = model.score(INSTRUCTIONS, EPISODES)
    assert scores.shape == (3,) and scores.dtype == np.float64 and np.unique(scores).size == 3
    np.testing.assert_allclose(model.score(INSTRUCTIONS, EPISODES, batch_size=1), scores, atol=1e-5)
    model.save_pretrained(tmp_path, metrics={"heldout_accuracy": 0.9})
    meta = json.loads((tmp_path / "config.json").read_text())
    if mode == "frozen":
        assert all(name.startswith("head.") for name in meta["stored_tensors"])
    else:
        marker = "lora_A" if mode == "lora" else "backbone."
        assert any(marker in name for name in meta["stored_tensors"])
    loaded = load_reward_model(tmp_path)
    assert loaded.metrics == {"heldout_accuracy": 0.9}
    np.testing.assert_allclose(loaded.score(INSTRUCTIONS, EPISODES), scores, atol=1e-6)


def test_head_sees_the_instruction() -> None:
    model = RewardModel(RewardModelConfig(backbone="tiny-bert", head_hidden=8))
    _perturb(model)
    a, b = model.score(["buy a red cotton shirt", "buy blue shoes"], [EPISODES[0], EPISODES[0]])
    assert a != b


def test_typed_errors(tmp_path: Path, web_spaces) -> None:
    with pytest.raises(ModalityError, match="encodes no text"):
        RewardModel(RewardModelConfig(backbone="efficientnet-lite0"))
    with pytest.raises(ConfigError, match="finetune"):
        RewardModelConfig(finetune="partial")
    with pytest.raises(ConfigError, match="max_episode_tokens"):
        RewardModelConfig.from_dict({"max_episode_token": 3})
    model = RewardModel(RewardModelConfig(backbone="tiny-bert", head_hidden=8))
    with pytest.raises(ConfigError, match="one of each"):
        model(["a"], ["b", "c"])
    with pytest.raises(CheckpointError, match="not an rlft reward model"):
        load_reward_model(tmp_path)
    build_policy(PolicyConfig(backbone="tiny-bert"), *web_spaces).save(tmp_path / "policy")
    with pytest.raises(CheckpointError, match="it is a policy"):
        load_reward_model(tmp_path / "policy")
    model.save_pretrained(tmp_path / "rm")
    (tmp_path / "rm" / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_reward_model(tmp_path / "rm")


COLOURS = ("red", "blue", "green", "purple", "yellow", "black", "white", "pink")


def _order_pair(rng: np.random.Generator, colours: tuple[str, ...]) -> tuple[str, str, str]:
    """An instruction naming a colour, the order of that colour (chosen) and of another (rejected)."""
    wanted, other = rng.choice(colours, 2, replace=False)
    order = "Steps:\n1. click[4]\nFinal page:\nThank you for your order. You bought Cotton shirt (color: {})."
    return f"i want a cotton shirt with {wanted} color", order.format(wanted), order.format(other)


def _fit_and_rank(head: str, train: list, test: list, steps: int = 40) -> float:
    """Bradley-Terry fit of a frozen tiny-bert reward model; held-out share of pairs ranked right."""
    from rlft.agents.rm import bradley_terry_loss

    model = RewardModel(RewardModelConfig(backbone="tiny-bert", head=head, head_hidden=32))
    optimizer = torch.optim.Adam(model.trainable_parameters(), lr=3e-3)
    model.train()
    for step in range(steps):
        batch = [train[(step * 16 + i) % len(train)] for i in range(16)]
        prompts = [p for p, _, _ in batch]
        rewards = model(prompts + prompts, [c for _, c, _ in batch] + [r for _, _, r in batch])
        loss = bradley_terry_loss(rewards[:16] - rewards[16:], torch.zeros(16, dtype=torch.bool))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    prompts = [p for p, _, _ in test]
    chosen = model.score(prompts, [c for _, c, _ in test])
    return float(np.mean(chosen > model.score(prompts, [r for _, _, r in test])))


def test_grounded_head_ranks_orders_of_colours_never_seen_in_training() -> None:
    rng = np.random.default_rng(0)
    train = [_order_pair(rng, COLOURS[:5]) for _ in range(64)]
    test = [_order_pair(rng, COLOURS[5:]) for _ in range(64)]
    # The token-level match carries over to words the head never saw (an order ignoring the instruction
    # ranks half of these pairs right).
    assert _fit_and_rank("grounded", train, test) >= 0.95


def test_auto_head_and_checkpoints_from_before_heads_were_selectable(tmp_path: Path) -> None:
    assert RewardModel(RewardModelConfig(backbone="tiny-bert", head_hidden=8)).head_kind == "grounded"
    assert RewardModel(RewardModelConfig(backbone="tiny-gpt2", head_hidden=8)).head_kind == "pooled"
    with pytest.raises(ModalityError, match="head='pooled'"):
        RewardModel(RewardModelConfig(backbone="tiny-gpt2", head="grounded"))
    with pytest.raises(ConfigError, match="head"):
        RewardModelConfig(head="mlp")
    pooled = RewardModel(RewardModelConfig(backbone="tiny-bert", head="pooled", head_hidden=8))
    _perturb(pooled)
    pooled.save_pretrained(tmp_path)
    meta = json.loads((tmp_path / "config.json").read_text())
    del meta["reward_config"]["head"]  # what a reward model saved by an older rlft holds
    (tmp_path / "config.json").write_text(json.dumps(meta))
    loaded = load_reward_model(tmp_path)
    assert loaded.head_kind == "pooled"
    np.testing.assert_allclose(
        loaded.score(INSTRUCTIONS, EPISODES), pooled.score(INSTRUCTIONS, EPISODES), atol=1e-6
    )


RGB = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 60, 220), "yellow": (230, 220, 30)}


def scene(rng: np.random.Generator, colour: str, size: int = 32) -> np.ndarray:
    """A grey table with one coloured block at a random place: a stand-in for a final frame."""
    frame = np.full((size, size, 3), 90, dtype=np.uint8)
    y, x = rng.integers(2, size - 10, 2)
    frame[y : y + 8, x : x + 8] = RGB[colour]
    return frame


def test_image_head_scores_frames_batch_invariant_and_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    model = RewardModel(RewardModelConfig(backbone="tiny-clip", head="image", head_hidden=16))
    assert model.reads_frames and model.head_kind == "image"
    _perturb(model)
    frames = [scene(rng, c) for c in ("red", "green", "blue")]
    prompts = ["put the red block in the bowl"] * 3
    scores = model.score(prompts, frames)
    assert scores.shape == (3,) and np.unique(scores).size == 3
    np.testing.assert_allclose(model.score(prompts, frames, batch_size=1), scores, atol=1e-5)
    other = model.score(["put the blue block in the bowl"] * 3, frames)
    assert not np.allclose(other, scores)  # the instruction conditions the score
    model.save_pretrained(tmp_path)
    loaded = load_reward_model(tmp_path)
    assert loaded.reads_frames
    np.testing.assert_allclose(loaded.score(prompts, frames), scores, atol=1e-6)
    with pytest.raises(ConfigError, match="final frames"):
        model.score(prompts[:1], ["1. [+0.10, -0.20]"])
    with pytest.raises(ConfigError, match="one size"):
        model.score(prompts[:2], [frames[0], frames[0][:16]])
    with pytest.raises(ConfigError, match=r"texts \(episode_text\)"):
        RewardModel(RewardModelConfig(backbone="tiny-bert", head_hidden=8)).score(prompts[:1], frames[:1])
    with pytest.raises(ModalityError, match="vision-language"):
        RewardModel(RewardModelConfig(backbone="tiny-bert", head="image"))
    # auto stays a text head: episodes are texts unless the data say otherwise (rlft train rm decides).
    assert not RewardModel(RewardModelConfig(backbone="tiny-clip", head_hidden=8)).reads_frames
