"""Web policies read each command's description and the episode history; the instruction is never cut."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from rlft.errors import ConfigError, ModalityError
from rlft.policies import PolicyConfig, build_policy
from rlft.policies.heads import exact_matches, page_distinctness
from rlft.policies.marks import HISTORY_MARK, INSTRUCTION_MARK
from rlft.policies.observations import candidate_texts, descriptions_of, web_observation_text
from rlft.policies.sb3 import make_sb3_env

from .conftest import make_web_env, web_obs

INSTRUCTION = "buy purple canvas sneakers under 40 dollars in size m with free returns"
COMMANDS = ("click[6]", "click[7]", "back")
DESCRIPTIONS = (
    'link "Acme slip-on canvas sneakers, purple" $35.99',
    'link "Zed leather boots, black" $89.00',
    "back to /search?q=sneakers",
)
HISTORY = "1. search[purple sneakers] -> /search?q=purple+sneakers\n2. click[3] -> error: no such element"


def _obs(page_words: int = 10, history: str = HISTORY, descriptions: Any = DESCRIPTIONS) -> dict:
    obs = web_obs(COMMANDS, instruction=INSTRUCTION)
    obs["page"] = " ".join(f"filler{i % 7} word" for i in range(page_words)) + " PAGEEND"
    if history is not None:
        obs["history"] = history
    if descriptions is not None:
        obs["admissible_descriptions"] = descriptions
    return obs


def _policy(web_spaces: Any, backbone: str, **kwargs: Any) -> Any:
    return build_policy(PolicyConfig(backbone=backbone, **{"max_obs_tokens": 96, **kwargs}), *web_spaces)


def _real_tokens(policy: Any, ids: np.ndarray, mask: np.ndarray) -> list[int]:
    return [int(t) for t, m in zip(ids, mask, strict=True) if m]


def _contains(seq: list[int], sub: list[int]) -> bool:
    return any(seq[i : i + len(sub)] == sub for i in range(len(seq) - len(sub) + 1))


def test_missing_keys_read_as_empty() -> None:
    obs = web_obs(COMMANDS)
    assert descriptions_of(obs) == ["", "", ""]
    assert candidate_texts(obs) == list(COMMANDS)
    assert "Previous actions" not in web_observation_text(obs)
    # A description list shorter than the commands is padded with empty descriptions.
    short = {**obs, "admissible_descriptions": DESCRIPTIONS[:1]}
    assert candidate_texts(short) == [f"click[6] | {DESCRIPTIONS[0]}", "click[7]", "back"]
    text = web_observation_text(_obs())
    assert text.index("Instruction:") < text.index("Previous actions:") < text.index("Page:")


@pytest.mark.parametrize("backbone", ["tiny-bert", "tiny-gpt2"])
def test_long_page_never_cuts_the_instruction(web_spaces: Any, backbone: str) -> None:
    policy = _policy(web_spaces, backbone, max_history_tokens=16)
    instr_ids = policy.backbone.token_ids([f"Instruction: {INSTRUCTION}"], add_special_tokens=False)[0]
    assert len(instr_ids) > 20  # the instruction is a large part of the 96-token budget
    long_history = "\n".join(f"{i}. click[{i}] -> /product/{i}" for i in range(1, 40))
    arrays = policy.encode_observations([_obs(page_words=2000, history=long_history)])
    row = _real_tokens(policy, arrays["obs_ids"][0], arrays["obs_mask"][0])
    assert len(row) == policy.encoder.obs_len  # the budget is full: the page was truncated
    assert _contains(row, instr_ids)
    page_end = policy.backbone.token_ids([" PAGEEND"], add_special_tokens=False)[0]
    assert not _contains(row, page_end)  # the end of the page is what was dropped
    # The history keeps its most recent step, within max_history_tokens.
    last_step = policy.backbone.token_ids(["39. click[39] -> /product/39"], add_special_tokens=False)[0]
    assert _contains(row, last_step[-4:])
    first_step = policy.backbone.token_ids(["1. click[1] -> /product/1"], add_special_tokens=False)[0]
    assert not _contains(row, first_step)
    if backbone == "tiny-gpt2":  # the prompt still ends where the command starts
        suffix = policy.encoder.end
        assert row[-len(suffix) :] == suffix


@pytest.mark.parametrize("backbone", ["tiny-bert", "tiny-gpt2"])
def test_candidates_carry_their_descriptions(web_spaces: Any, backbone: str) -> None:
    policy = _policy(web_spaces, backbone)
    arrays = policy.encode_observations([_obs()])
    desc = policy.backbone.token_ids(["purple"], add_special_tokens=False)[0]
    row0 = _real_tokens(policy, arrays["cand_ids"][0, 0], arrays["cand_mask"][0, 0])
    row1 = _real_tokens(policy, arrays["cand_ids"][0, 1], arrays["cand_mask"][0, 1])
    assert _contains(row0, desc) and not _contains(row1, desc)
    # The head reads them: the same commands with other descriptions (or none) score differently.
    with torch.no_grad():
        logits = policy.forward(policy.to_tensors(arrays))[0]
        swapped = _obs(descriptions=(DESCRIPTIONS[1], DESCRIPTIONS[0], DESCRIPTIONS[2]))
        logits_swapped = policy.forward(policy.to_tensors(policy.encode_observations([swapped])))[0]
        bare = policy.forward(policy.to_tensors(policy.encode_observations([_obs(descriptions=None)])))[0]
    assert not torch.allclose(logits, logits_swapped) and not torch.allclose(logits, bare)
    # History changes what the policy reads too.
    with torch.no_grad():
        no_history = policy.forward(policy.to_tensors(policy.encode_observations([_obs(history="")])))[0]
    assert not torch.allclose(logits, no_history)


def test_late_interaction_marks_instruction_and_history(web_spaces: Any) -> None:
    policy = _policy(
        web_spaces, "tiny-bert", scorer="late_interaction", max_history_tokens=200, max_obs_tokens=256
    )
    assert not policy.caches_text_encodings()
    arrays = policy.encode_observations([_obs(page_words=400)])
    assert "obs_query" in arrays
    assert "obs_query" in policy.sb3_observation_space(8).spaces
    marks = list(zip(arrays["obs_ids"][0].tolist(), arrays["obs_query"][0].tolist(), strict=True))
    instruction, history = policy.backbone.token_ids(
        [f"Instruction: {INSTRUCTION}", f"\nPrevious actions:\n{HISTORY}"], add_special_tokens=False
    )
    assert [t for t, q in marks if q == INSTRUCTION_MARK] == instruction
    assert [t for t, q in marks if q == HISTORY_MARK] == history
    assert policy.sb3_observation_space(8)["obs_query"].contains(arrays["obs_query"][0])
    # Trains end to end: log-probs have gradients through the match projections.
    policy.train()
    log_prob = policy.evaluate_actions([_obs()], ["click[6]"])[0]
    (-log_prob.sum()).backward()
    assert policy.head.token_proj[1].weight.grad is not None
    assert policy.head.log_match_scale.grad is not None


def test_late_interaction_needs_token_encodings(web_spaces: Any) -> None:
    with pytest.raises(ModalityError, match="encode_tokens"):
        build_policy(
            PolicyConfig(backbone="tiny-gpt2", head="text_scorer", scorer="late_interaction"), *web_spaces
        )
    with pytest.raises(ConfigError, match="scorer"):
        PolicyConfig(scorer="colbert")


class _InjectGrounding(gym.ObservationWrapper):
    """Adds the keys a grounded web env exposes (for envs and datasets that predate them)."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.steps: list[str] = []

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        self.steps = []
        return super().reset(**kwargs)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        self.steps.append(f"{len(self.steps) + 1}. {action} -> step")
        return super().step(action)

    def observation(self, observation: dict) -> dict:
        commands = tuple(observation["admissible_commands"])
        return {
            **observation,
            "admissible_descriptions": tuple(f"acts on {c} here" for c in commands),
            "history": "\n".join(self.steps[-4:]),
        }


def test_sb3_view_sees_descriptions_and_history() -> None:
    env = _InjectGrounding(make_web_env())
    policy = build_policy(
        PolicyConfig(backbone="tiny-bert", max_candidates=32, max_obs_tokens=128),
        env.observation_space,
        env.action_space,
    )
    wrapped = make_sb3_env(env, policy)
    wrapped.reset(seed=0)
    expert = env.unwrapped.expert_action()
    obs, *_ = wrapped.step(policy.action_to_index(wrapped.last_raw_observation, expert))
    raw = wrapped.last_raw_observation
    assert raw is not None and raw["history"].startswith("1. ")
    native = policy.encode_observations([raw], 32)
    for key, value in native.items():
        np.testing.assert_array_equal(obs[key], value[0])
    history_ids = policy.backbone.token_ids([raw["history"]], add_special_tokens=False)[0]
    assert _contains(_real_tokens(policy, obs["obs_ids"], obs["obs_mask"]), history_ids)
    acts = policy.backbone.token_ids(["acts on"], add_special_tokens=False)[0]
    assert _contains(_real_tokens(policy, obs["cand_ids"][0], obs["cand_mask"][0]), acts)
    assert wrapped.observation_space.contains(obs)


def test_finetune_auto_adapts_web_backbones(web_spaces: Any, tabletop_spaces: Any) -> None:
    web = build_policy(PolicyConfig(backbone="tiny-bert"), *web_spaces)
    assert web.config.finetune == "lora" and not web.backbone_is_frozen
    assert any("lora" in n for n, p in web.named_parameters() if p.requires_grad)
    tabletop = build_policy(PolicyConfig(backbone="tiny-clip"), *tabletop_spaces)
    assert tabletop.config.finetune == "frozen" and tabletop.backbone_is_frozen
    # An explicit mode is kept.
    assert build_policy(PolicyConfig(backbone="tiny-bert", finetune="frozen"), *web_spaces).backbone_is_frozen


def test_length_buckets_encode_like_one_padded_batch(web_spaces: Any) -> None:
    from rlft.policies.heads import encode_by_length

    policy = _policy(web_spaces, "tiny-bert", finetune="frozen")
    texts = ["back", "click[3]", 'click[6] | link "a very long product title with many words" $35.99', "stop"]
    enc = policy.backbone.tokenize(texts, 48)
    ids, mask = torch.as_tensor(enc["input_ids"]), torch.as_tensor(enc["attention_mask"])
    with torch.no_grad():
        pooled = encode_by_length(policy.backbone.encode_text, ids, mask)
        tokens = encode_by_length(policy.backbone.encode_tokens, ids, mask)
        direct = policy.backbone.encode_tokens(ids, mask)
    torch.testing.assert_close(pooled, policy.backbone.encode_text(ids, mask), atol=1e-5, rtol=1e-4)
    real = mask[:, : tokens.shape[1]].bool()
    torch.testing.assert_close(tokens[real], direct[:, : tokens.shape[1]][real], atol=1e-5, rtol=1e-4)


COLOURS = ("red", "blue", "green", "purple", "yellow", "black", "white", "pink")


Pages = list[tuple[dict, str]]
"""Observations with the expert's command."""


def _clone_and_score(policy: Any, train: Pages, test: Pages, steps: int) -> float:
    """Behaviour-clone a frozen policy on ``train`` (batches of 16, Adam 3e-3); greedy accuracy on test."""
    policy.cache_frozen_encodings()
    optimizer = torch.optim.Adam(policy.trainable_parameters(), lr=3e-3)
    policy.train()
    for step in range(steps):
        batch = [train[(step * 16 + i) % len(train)] for i in range(16)]
        loss = -policy.evaluate_actions([o for o, _ in batch], [a for _, a in batch])[0].mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    policy.train(False)
    with torch.no_grad():
        picks = policy.act_batch([o for o, _ in test], True)
    return float(np.mean([p == a for p, (_, a) in zip(picks, test, strict=True)]))


def _option_page(rng: np.random.Generator) -> tuple[dict, str]:
    """A product page with 4 colour options, the instruction naming one of them (the expert's pick)."""
    offered = [COLOURS[i] for i in rng.permutation(len(COLOURS))[:4]]
    wanted = offered[int(rng.integers(4))]
    commands = tuple(f"select[3][{c}]" for c in offered)
    obs = web_obs(commands, instruction=f"i want a cotton shirt with {wanted} color under 30 dollars")
    # The page lists every offered colour: a pooled observation vector holds all of them.
    obs["page"] = f'[3] combobox "Color" options={list(offered)} [4] button "Buy now"'
    obs["admissible_descriptions"] = tuple(f'combobox "Color" option "{c}"' for c in offered)
    return obs, f"select[3][{wanted}]"


def test_cross_attention_learns_which_option_the_instruction_names(web_spaces: Any) -> None:
    """Trained on a few pages, the token-level scorer picks the named option on unseen pages."""
    rng = np.random.default_rng(0)
    train = [_option_page(rng) for _ in range(48)]
    test = [_option_page(rng) for _ in range(32)]
    # With the same data and steps the bi-encoder reaches 0.38 and late interaction 0.44 (chance: 0.25).
    policy = _policy(web_spaces, "tiny-bert", scorer="cross_attention", finetune="frozen", seed=0)
    accuracy = _clone_and_score(policy, train, test, steps=60)
    assert accuracy >= 0.9, accuracy


def test_exact_matches_tell_instruction_words_from_history_words() -> None:
    # Instruction "honey flavor", history "select vanilla", then page tokens (mark 0) that never count.
    obs_ids = torch.tensor([[11, 12, 21, 22, 11, 13]])
    marks = torch.tensor([[INSTRUCTION_MARK, INSTRUCTION_MARK, HISTORY_MARK, HISTORY_MARK, 0, 0]])
    cand_ids = torch.tensor([[21, 11, 0], [21, 22, 13]])  # "select honey", "select vanilla <page word>"
    found = exact_matches(cand_ids, obs_ids.expand(2, -1), marks.expand(2, -1))
    assert found[..., 0].tolist() == [[False, True, False], [False, False, False]]
    assert found[..., 1].tolist() == [[True, False, False], [True, True, False]]


def _price_page(rng: np.random.Generator) -> tuple[dict, str]:
    """Four look-alike listings; the instruction's price limit admits exactly one (the expert's pick)."""
    limit = int(rng.integers(2, 20)) * 10
    below = [limit * float(rng.uniform(0.75, 0.97))]  # within 3-25% of the limit: no coarse cue
    prices = below + [limit * float(rng.uniform(1.03, 1.35)) for _ in range(3)]
    order = rng.permutation(4)
    commands = tuple(f"click[{3 + i}]" for i in range(4))
    obs = web_obs(commands, instruction=f"i want a cotton shirt, price under {limit} dollars")
    obs["admissible_descriptions"] = tuple(f'link "Cotton shirt" ${prices[j]:.2f}' for j in order)
    obs["page"] = " ".join(f'[{3 + i}] link "Cotton shirt" ${prices[j]:.2f}' for i, j in enumerate(order))
    return obs, commands[int(np.argmin(order))]


def test_cross_attention_compares_prices_with_the_asked_limit(web_spaces: Any) -> None:
    """Prices never seen in training: the scorer keeps the one listing under the limit."""
    rng = np.random.default_rng(0)
    train = [_price_page(rng) for _ in range(64)]
    test = [_price_page(rng) for _ in range(40)]
    policy = _policy(web_spaces, "tiny-bert", scorer="cross_attention", finetune="frozen", seed=0)
    assert policy.head.numbers is not None
    accuracy = _clone_and_score(policy, train, test, steps=80)
    assert accuracy >= 0.9, accuracy  # chance: 0.25


def _two_candidate_scores(
    head: Any, obs_tokens: torch.Tensor, query: torch.Tensor, cand_tokens: torch.Tensor, ids: tuple
) -> torch.Tensor:
    """``head.score_tokens`` of one observation and two candidates, no padding (``ids``: obs, candidates)."""
    obs_ids, cand_ids = ids
    with torch.no_grad():
        scores, _ = head.score_tokens(
            obs_tokens,
            torch.ones(obs_ids.shape, dtype=torch.long),
            query,
            cand_tokens,
            torch.ones(cand_ids.shape, dtype=torch.long),
            torch.tensor([[True, True]]),
            obs_ids,
            cand_ids,
        )
    return scores


@pytest.mark.parametrize("lexical", [True, False])
def test_lexical_features_off_score_from_token_states_alone(lexical: bool) -> None:
    """Candidates with equal token states and different ids: only the token-id features tell them apart."""
    from rlft.policies.heads import CrossAttentionScorerHead

    torch.manual_seed(0)
    head = CrossAttentionScorerHead(8, 16, lexical=lexical)
    obs_ids = torch.tensor([[11, 12, 30, 31]])  # instruction "11 12", then page tokens
    query = torch.tensor([[INSTRUCTION_MARK, INSTRUCTION_MARK, 0, 0]])
    obs_tokens = torch.randn(1, 4, 8)
    cand_tokens = torch.randn(1, 3, 8).expand(2, -1, -1)  # identical states
    cand_ids = torch.tensor([[5, 11, 12], [5, 40, 41]])  # the first repeats the instruction's ids
    scores = _two_candidate_scores(head, obs_tokens, query, cand_tokens, (obs_ids, cand_ids))
    assert (scores[0] > scores[1] + 1e-3) if lexical else torch.allclose(scores[0], scores[1])


def test_lexical_features_round_trip_in_the_config(web_spaces: Any) -> None:
    config = PolicyConfig(backbone="tiny-bert", scorer="cross_attention", lexical_features=False)
    assert PolicyConfig.from_json(config.to_json()).lexical_features is False
    policy = build_policy(config, *web_spaces)
    assert policy.head.lexical is False
    with pytest.raises(ConfigError, match="lexical_features"):
        PolicyConfig(lexical_features="no")  # type: ignore[arg-type]


def test_state_dropout_acts_while_training_only(web_spaces: Any) -> None:
    """The head drops token states in training mode; in eval mode it scores exactly as without dropout."""
    from rlft.policies.heads import CrossAttentionScorerHead

    def scores(head: CrossAttentionScorerHead) -> torch.Tensor:
        torch.manual_seed(1)
        obs_tokens, cand_tokens = torch.randn(1, 4, 8), torch.randn(2, 3, 8)
        query = torch.tensor([[INSTRUCTION_MARK, INSTRUCTION_MARK, 0, 0]])
        ids = (torch.tensor([[11, 12, 30, 31]]), torch.tensor([[5, 11, 12], [5, 40, 41]]))
        return _two_candidate_scores(head, obs_tokens, query, cand_tokens, ids)

    torch.manual_seed(0)
    plain = CrossAttentionScorerHead(8, 16).eval()
    torch.manual_seed(0)
    dropping = CrossAttentionScorerHead(8, 16, state_dropout=0.5)
    assert torch.equal(scores(dropping.eval()), scores(plain))
    assert not torch.allclose(scores(dropping.train()), scores(plain))

    config = PolicyConfig(backbone="tiny-bert", scorer="cross_attention", state_dropout=0.3)
    assert PolicyConfig.from_json(config.to_json()).state_dropout == 0.3
    policy = build_policy(config, *web_spaces)
    assert policy.head.state_dropout.p == 0.3 and not policy.training  # a built policy starts in eval mode
    for bad in (1.0, -0.1, "x"):
        with pytest.raises(ConfigError, match="state_dropout"):
            PolicyConfig(state_dropout=bad)  # type: ignore[arg-type]


def test_page_distinctness_is_an_idf_over_the_pages_candidates() -> None:
    # Page 0 has three candidates; page 1 one. Id 0 is padding where the mask is 0.
    cand_ids = torch.tensor([[1, 5, 9, 0], [1, 5, 8, 0], [1, 6, 7, 7], [1, 4, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 1], [1, 1, 0, 0]])
    out = page_distinctness(cand_ids, mask, torch.tensor([0, 0, 0, 1]))
    shared_by_two = math.log(3 / 2) / math.log(3)
    expected = torch.tensor(
        [
            [0.0, shared_by_two, 1.0, 0.0],  # 1: every candidate; 5: two of three; 9: only this one
            [0.0, shared_by_two, 1.0, 0.0],
            [0.0, 1.0, 1.0, 1.0],  # 7 twice in one candidate still counts as one candidate
            [0.0, 0.0, 0.0, 0.0],  # a page with one candidate: nothing to tell apart
        ]
    )
    assert torch.allclose(out, expected)
    assert page_distinctness(cand_ids[:0], mask[:0], torch.tensor([], dtype=torch.long)).shape == (0, 4)


def test_distinct_matches_score_the_word_only_one_option_shares_with_the_instruction() -> None:
    """Two options repeat the instruction's words in their context; only the distinct match differs."""
    from rlft.policies.heads import CrossAttentionScorerHead

    torch.manual_seed(0)
    plain = CrossAttentionScorerHead(8, 16)
    distinct = CrossAttentionScorerHead(8, 16, distinct=True)
    distinct.load_state_dict(plain.state_dict(), strict=False)  # the same weights; distinct_weight = 1
    assert set(distinct.state_dict()) - set(plain.state_dict()) == {"distinct_weight"}
    obs_ids = torch.tensor([[11, 12, 13, 30]])  # instruction "11 12 13", then a page token
    query = torch.tensor([[INSTRUCTION_MARK, INSTRUCTION_MARK, INSTRUCTION_MARK, 0]])
    obs_tokens = torch.randn(1, 4, 8)
    cand_tokens = torch.randn(1, 4, 8).expand(2, -1, -1)  # identical states
    # Both share context 11 12 with the instruction; only the first one's option (13) is asked for. The
    # second one's option (14) is not, yet it matches as many instruction tokens (it repeats 12).
    cand_ids = torch.tensor([[11, 12, 13, 5], [11, 12, 14, 12]])

    def margin(head: CrossAttentionScorerHead) -> float:
        scores = _two_candidate_scores(head, obs_tokens, query, cand_tokens, (obs_ids, cand_ids))
        return float(scores[0] - scores[1])

    with torch.no_grad():
        salience = float(torch.nn.functional.softplus(distinct.salience(cand_tokens[0, 2:3])).squeeze())
    assert margin(distinct) == pytest.approx(margin(plain) + salience, abs=1e-5)
    assert not hasattr(CrossAttentionScorerHead(8, 16, lexical=False, distinct=True), "distinct_weight")


def test_distinct_matches_round_trip_in_the_config(web_spaces: Any) -> None:
    config = PolicyConfig(backbone="tiny-bert", scorer="cross_attention", distinct_matches=True)
    assert PolicyConfig.from_json(config.to_json()).distinct_matches is True
    assert build_policy(config, *web_spaces).head.distinct
    with pytest.raises(ConfigError, match="distinct_matches"):
        PolicyConfig(distinct_matches=1)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="lexical_features=True"):
        PolicyConfig(distinct_matches=True, lexical_features=False)


def test_rank_numbers_compare_each_candidate_with_its_pages_others() -> None:
    from rlft.policies.heads import CrossAttentionScorerHead
    from rlft.policies.numbers import number_table

    class Vocab:
        pieces = ["[PAD]", "$", "5", "7", "9", "12", "flight"]

        def get_vocab(self) -> dict[str, int]:
            return {p: i for i, p in enumerate(self.pieces)}

        def __len__(self) -> int:
            return len(self.pieces)

    torch.manual_seed(0)
    head = CrossAttentionScorerHead(8, 16, match_dim=4, number_table=number_table(Vocab()), rank=True)
    # Page 0: $7, $5, $9 and a candidate without a number; page 1: one priced candidate (no others).
    cand_ids = torch.tensor([[6, 1, 3], [6, 1, 2], [6, 1, 4], [6, 0, 0], [6, 1, 5]])
    mask = (cand_ids > 0) | (torch.arange(3) == 0)
    valid = torch.tensor([[True, True, True, True], [True, False, False, False]])
    rows = torch.tensor([0, 0, 0, 0, 1])
    with torch.no_grad():
        ranks = head.rank_numbers(torch.randn(5, 3, 8), cand_ids, mask, torch.randn(5, 3, 4), rows, valid)
    mean, low, high = ranks.unbind(-1)
    assert low[1] == pytest.approx(1.0, abs=1e-3)  # $5: below every other, the cheapest
    assert high[2] == pytest.approx(-1.0, abs=1e-3)  # $9: above every other, the dearest
    assert mean[0] == pytest.approx(0.0, abs=1e-3)  # $7: one above, one below
    assert low[0] < 0 < high[0]
    assert ranks[3].abs().sum() == 0 and ranks[4].abs().sum() == 0  # no number / nothing to rank against
    assert not hasattr(CrossAttentionScorerHead(8, 16, lexical=False, rank=True), "rank_weights")


def _superlative_page(rng: np.random.Generator) -> tuple[dict, str]:
    """Four flights with a price and a review count; the instruction wants the cheapest or the dearest."""
    prices = rng.permutation(np.arange(100, 2000, 10))[:4]
    cheapest = bool(rng.integers(2))
    commands = tuple(f"click[{3 + i}]" for i in range(4))
    wanted = "cheapest" if cheapest else "most expensive"
    obs = web_obs(commands, instruction=f"book the {wanted} flight")
    obs["admissible_descriptions"] = tuple(
        f'button "Book" (under "${p:,} | {int(rng.integers(2, 900))} reviews")' for p in prices
    )
    obs["page"] = " ".join(f"[{3 + i}] {d}" for i, d in enumerate(obs["admissible_descriptions"]))
    return obs, commands[int(np.argmin(prices) if cheapest else np.argmax(prices))]


def test_rank_numbers_learn_the_cheapest_and_the_dearest(web_spaces: Any) -> None:
    """Prices never seen in training, with thousands separators and a review count beside them."""
    rng = np.random.default_rng(0)
    train = [_superlative_page(rng) for _ in range(64)]
    test = [_superlative_page(rng) for _ in range(40)]
    # With the same data and steps, rank_numbers=False reaches 0.60 (chance: 0.25).
    policy = _policy(web_spaces, "tiny-bert", scorer="cross_attention", finetune="frozen", rank_numbers=True)
    accuracy = _clone_and_score(policy, train, test, steps=80)
    assert accuracy >= 0.9, accuracy
    config = PolicyConfig(backbone="tiny-bert", scorer="cross_attention", rank_numbers=True)
    assert PolicyConfig.from_json(config.to_json()).rank_numbers is True
    with pytest.raises(ConfigError, match="lexical_features=True"):
        PolicyConfig(rank_numbers=True, lexical_features=False)


def test_instruction_flags_read_descriptions_not_the_commands_element_numbers() -> None:
    """``click[7] | ... 3`` and ``click[3] | ... 7`` beside "the 7th": only the described 7 matches."""
    from rlft.policies.heads import CrossAttentionScorerHead

    torch.manual_seed(0)
    plain = CrossAttentionScorerHead(8, 16)
    separated = CrossAttentionScorerHead(8, 16, separator_ids=torch.tensor([9]))
    separated.load_state_dict(plain.state_dict())
    obs_ids = torch.tensor([[7, 12, 30]])  # instruction "7 12", then a page token
    query = torch.tensor([[INSTRUCTION_MARK, INSTRUCTION_MARK, 0]])
    obs_tokens = torch.randn(1, 3, 8)
    cand_tokens = torch.randn(1, 1, 8).expand(2, 5, -1)  # one state everywhere: only ids differ
    cand_ids = torch.tensor([[5, 7, 9, 20, 3], [5, 3, 9, 20, 7]])  # command 5 [n], separator 9, description
    ids = (obs_ids, cand_ids)
    before = _two_candidate_scores(plain, obs_tokens, query, cand_tokens, ids)
    after = _two_candidate_scores(separated, obs_tokens, query, cand_tokens, ids)
    assert torch.allclose(before[0], before[1])  # each holds one 7: alike when commands count
    assert after[1] > after[0] + 1e-3  # the described 7 wins
    described = separated.description_tokens(
        torch.tensor([[5, 7, 9, 20, 0], [5, 7, 20, 3, 3]]), torch.ones(2, 5)
    )
    assert described.tolist() == [[False, False, True, True, True], [True] * 5]  # no separator: every token
    masked = separated.description_tokens(cand_ids[:1], torch.tensor([[1, 1, 1, 1, 0]]))
    assert masked.tolist() == [[False, False, True, True, False]]


def test_match_commands_defaults_off_and_saved_configs_keep_their_head(web_spaces: Any) -> None:
    config = PolicyConfig(backbone="tiny-bert", scorer="cross_attention")
    assert config.match_commands is False
    assert build_policy(config, *web_spaces).head.separators is not None
    saved = config.to_dict()
    assert PolicyConfig.from_dict(saved).match_commands is False
    del saved["match_commands"]  # a policy saved before the field existed
    old = PolicyConfig.from_dict(saved)
    assert old.match_commands is True and build_policy(old, *web_spaces).head.separators is None
    assert (
        PolicyConfig.from_dict({"backbone": "tiny-bert"}).match_commands is False
    )  # a partial dict: the default
    with pytest.raises(ConfigError, match="match_commands"):
        PolicyConfig(match_commands="yes")  # type: ignore[arg-type]


def test_context_matches_tell_the_from_box_from_the_to_box() -> None:
    """ "from hanoi to lagos": each box holds the city the instruction pairs with its label, in order."""
    from rlft.policies.heads import context_matches

    # Ids: from 1, hanoi 2, to 3, la 4, ##gos 5, on 6, combobox 7, option 8, pink 2, color 9.
    table = torch.zeros((10, 6))
    table[:, 2] = 1.0
    table[5, 2] = 0.0  # ##gos continues a word
    obs_ids = torch.tensor([[1, 2, 3, 4, 5, 6, 0]]).expand(5, -1)  # instruction, then one page token
    instruction = torch.tensor([[True] * 6 + [False]]).expand(5, -1)
    cand_ids = torch.tensor(
        [
            [7, 1, 8, 2, 0],  # From box, option hanoi
            [7, 1, 8, 4, 5],  # From box, option lagos
            [7, 3, 8, 2, 0],  # To box, option hanoi
            [7, 3, 8, 4, 5],  # To box, option lagos
            [7, 5, 8, 4, 0],  # a box holding ##gos before la: pieces of one word pair with nothing
        ]
    )
    real = cand_ids > 0
    forward, reverse = context_matches(cand_ids, real, obs_ids, instruction, table)
    assert forward.tolist() == [
        [False, False, False, True, False],  # "from hanoi" in order: hanoi flagged
        [False] * 5,  # holds from and la/##gos, but "from" is next to "hanoi", not "lagos"
        [False] * 5,
        [False, False, False, True, False],  # "to la" in order
        [False] * 5,
    ]
    assert reverse.tolist() == [
        [False] * 5,
        [False] * 5,
        [False, True, False, False, False],
        [False] * 5,
        [False] * 5,
    ]
    assert not torch.stack(context_matches(cand_ids, real, obs_ids, instruction, None)).any()
    # Only instruction tokens count, and only the candidate tokens marked real (its description).
    assert not torch.stack(
        context_matches(cand_ids, real, obs_ids, torch.zeros_like(instruction), table)
    ).any()
    hidden = context_matches(cand_ids, real & (torch.arange(5) != 1), obs_ids, instruction, table)
    assert not hidden[0][0].any()  # "from" no longer read


def test_context_matches_default_on_and_saved_configs_keep_their_head(web_spaces: Any) -> None:
    config = PolicyConfig(backbone="tiny-bert", scorer="cross_attention")
    head = build_policy(config, *web_spaces).head
    assert config.context_matches and head.context and head.match_embed.shape[0] == 4
    saved = config.to_dict()
    del saved["context_matches"]
    old = PolicyConfig.from_dict(saved)
    assert old.context_matches is False and build_policy(old, *web_spaces).head.match_embed.shape[0] == 2
    assert not build_policy(
        PolicyConfig(**{**config.to_dict(), "lexical_features": False}), *web_spaces
    ).head.context
