"""The SB3 observation wrappers: fixed-size spaces, command choice and masks, and SB3 training on them."""

from __future__ import annotations

import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
import rlft  # noqa: F401  (registers the ids)
from gymnasium import spaces
from rlft.envs.wrappers import DESCRIPTIONS_KEY, MASK_KEY, ImageObservation, TokenIds, TokenizeObservation
from rlft.errors import ConfigError, DependencyError

WEB_ID = "rlft/WebFormLogin-v0"
TABLETOP_ID = "rlft/TabletopPutBlockInBowl-v0"


@pytest.fixture
def web_env(tiny_tokenizer):
    env = TokenizeObservation(
        gym.make(WEB_ID),
        tiny_tokenizer,
        max_tokens=16,
        max_commands=24,
        command_tokens=8,
        description_tokens=12,
    )
    yield env
    env.close()


def silent_logger():
    """An SB3 logger without outputs: SB3's default one leaves an empty folder in the temp dir."""
    from stable_baselines3.common.logger import Logger

    return Logger(folder=None, output_formats=[])


def test_token_ids_pad_cut_and_agree_across_tokenizer_kinds(tiny_tokenizer, tiny_fast_tokenizer, tmp_path):
    tiny_tokenizer.save_pretrained(tmp_path / "tok")
    kinds = [TokenIds(tiny_tokenizer), TokenIds(tiny_fast_tokenizer), TokenIds(str(tmp_path / "tok"))]
    rows = [k.encode(["put the red block", "", "in the green bowl and the red block"], 5) for k in kinds]
    for row in rows:
        np.testing.assert_array_equal(row, rows[0])
    first = rows[0]
    assert first.shape == (3, 5) and first.dtype == np.int64
    assert (first[0, 4] == 0) and (first[0, :4] > 1).all()  # four known words, then [PAD]
    assert (first[1] == 0).all()
    assert (first[2] > 1).all()  # cut at five tokens
    assert kinds[0].space(5).contains(first[0])


def test_token_ids_refuse_what_is_not_a_tokenizer(tmp_path):
    with pytest.raises(ConfigError, match="not a Hugging Face tokenizer"):
        TokenIds(object())
    with pytest.raises(ConfigError, match="local files"):
        TokenIds(str(tmp_path / "no-such-tokenizer"))


def test_a_tokenizer_name_without_transformers_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(DependencyError, match=r"rlft\[train\]"):
        TokenIds("some/tokenizer")


def test_web_observation_is_fixed_size_and_actions_pick_commands(web_env):
    space = web_env.observation_space
    assert isinstance(space, spaces.Dict) and not any(isinstance(s, spaces.Text) for s in space.values())
    assert space["page"].shape == (16,) and space["admissible_commands"].shape == (24 * 8,)
    assert web_env.action_space == spaces.Discrete(24)
    obs, info = web_env.reset(seed=0)
    assert space.contains(obs)
    raw = web_env.unwrapped
    commands = web_env._commands
    assert 0 < len(commands) <= 24
    mask = web_env.action_masks()
    assert mask.dtype == bool and mask.sum() == len(commands) and mask[: len(commands)].all()
    np.testing.assert_array_equal(obs[MASK_KEY], mask.astype(np.int8))
    # Candidate rows past the commands are all padding; each command's row is its own encoding.
    rows = obs["admissible_commands"].reshape(24, 8)
    assert (rows[len(commands) :] == web_env.tokens.pad_id).all()
    np.testing.assert_array_equal(rows[1], web_env.tokens.encode([commands[1]], 8)[0])
    # Descriptions are tokenized row for row beside their commands.
    assert space[DESCRIPTIONS_KEY].shape == (24 * 12,)
    descriptions = web_env.unwrapped.observation()[DESCRIPTIONS_KEY]
    described = obs[DESCRIPTIONS_KEY].reshape(24, 12)
    assert (described[len(commands) :] == web_env.tokens.pad_id).all()
    np.testing.assert_array_equal(described[1], web_env.tokens.encode([descriptions[1]], 12)[0])
    assert (described[: len(commands), 0] != web_env.tokens.pad_id).all(), "every command has a description"
    # Action i sends the i-th admissible command: the expert's command, chosen by index, solves the task.
    for _ in range(30):
        expert = raw.expert_action()
        obs, _, terminated, truncated, info = web_env.step(np.int64(web_env._commands.index(expert)))
        assert obs["last_action_error"][0] == web_env.tokens.encode([""], 16)[0][0]
        if terminated or truncated:
            break
    assert terminated and info["success"]


def test_an_index_past_the_commands_is_an_invalid_action_not_a_crash(web_env):
    web_env.reset(seed=1)
    n = len(web_env._commands)
    assert n < 24
    _, _, terminated, _, info = web_env.step(23)
    assert info["last_action_error"] and not terminated


def test_tabletop_tokenized_instruction_beside_the_image(tiny_tokenizer):
    env = TokenizeObservation(
        gym.make(TABLETOP_ID), tiny_tokenizer, keys=("rgb", "instruction"), max_tokens=12
    )
    try:
        assert set(env.observation_space.spaces) == {"rgb", "instruction"}
        assert env.action_space == env.unwrapped.action_space
        obs, _ = env.reset(seed=0)
        assert env.observation_space.contains(obs)
        words = env.unwrapped.instruction.split()
        assert (obs["instruction"][: min(len(words), 12)] > 0).all()
        with pytest.raises(ConfigError, match="text commands"):
            env.action_masks()
    finally:
        env.close()


def test_image_only_view_of_tabletop():
    env = ImageObservation(gym.make(TABLETOP_ID, image_size=(48, 64)))
    try:
        assert env.observation_space == spaces.Box(0, 255, (48, 64, 3), np.uint8)
        obs, _ = env.reset(seed=0)
        assert obs.shape == (48, 64, 3) and obs.dtype == np.uint8
        np.testing.assert_array_equal(obs, env.unwrapped._observation()["rgb"])
    finally:
        env.close()
    with pytest.raises(ConfigError, match="not a uint8 image"):
        ImageObservation(gym.make(TABLETOP_ID), key="depth")


def test_wrapper_arguments_are_validated(tiny_tokenizer):
    env = gym.make(TABLETOP_ID)
    try:
        with pytest.raises(ConfigError, match="observation keys"):
            TokenizeObservation(env, tiny_tokenizer, keys=("rgbb",))
        with pytest.raises(ConfigError, match="not a Text observation key"):
            TokenizeObservation(env, tiny_tokenizer, max_tokens_per_key={"rgb": 4})
        with pytest.raises(ConfigError, match="max_tokens"):
            TokenizeObservation(env, tiny_tokenizer, max_tokens=0)
    finally:
        env.close()


def test_sb3_env_checker_accepts_both_families(tiny_tokenizer):
    checker = pytest.importorskip("stable_baselines3.common.env_checker")
    envs = [
        TokenizeObservation(
            gym.make(WEB_ID), tiny_tokenizer, max_tokens=16, max_commands=24, command_tokens=8
        ),
        TokenizeObservation(gym.make(TABLETOP_ID), tiny_tokenizer, keys=("rgb", "instruction")),
        ImageObservation(gym.make(TABLETOP_ID)),
    ]
    for env in envs:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # SB3's checker finds nothing to warn about
                checker.check_env(env, warn=True)
        finally:
            env.close()


def test_maskable_ppo_trains_a_few_steps_on_a_web_id(tiny_tokenizer):
    sb3_contrib = pytest.importorskip("sb3_contrib")
    env = TokenizeObservation(
        gym.make(WEB_ID),
        tiny_tokenizer,
        max_tokens=16,
        max_commands=24,
        command_tokens=8,
        description_tokens=12,
    )
    try:
        model = sb3_contrib.MaskablePPO(
            "MultiInputPolicy", env, n_steps=16, batch_size=8, n_epochs=1, seed=0, device="cpu"
        )
        model.set_logger(silent_logger())
        model.learn(16)
        assert model.num_timesteps == 16
        obs, _ = env.reset(seed=2)
        action, _ = model.predict(obs, action_masks=env.action_masks())
        assert env.action_masks()[int(action)]
    finally:
        env.close()


def test_ppo_trains_on_tabletop_and_sb3_reads_is_success(tmp_path):
    sb3 = pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.callbacks import EvalCallback
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv, VecTransposeImage

    def make() -> gym.Env:
        return Monitor(ImageObservation(gym.make(TABLETOP_ID, image_size=(40, 40))))

    env, eval_env = make(), VecTransposeImage(DummyVecEnv([make]))
    try:
        model = sb3.PPO("CnnPolicy", env, n_steps=8, batch_size=8, n_epochs=1, seed=0, device="cpu")
        model.set_logger(silent_logger())
        callback = EvalCallback(eval_env, n_eval_episodes=2, eval_freq=8, log_path=str(tmp_path), verbose=0)
        model.learn(8, callback=callback)
        # Both read info["is_success"] at each episode's end: the training buffer and EvalCallback.
        assert len(model.ep_success_buffer) == 2  # two 4-step episodes in 8 steps
        assert len(callback.evaluations_successes) == 1 and len(callback.evaluations_successes[0]) == 2
    finally:
        env.close()
        eval_env.close()


def test_monitor_passes_a_solved_episodes_is_success():
    from stable_baselines3.common.monitor import Monitor

    env = Monitor(gym.make(TABLETOP_ID))
    try:
        env.reset(seed=0)
        _, _, terminated, _, info = env.step(env.unwrapped.expert_action())
        assert terminated and info["is_success"] is True and info["episode"]["l"] == 1
    finally:
        env.close()


def test_ppo_multi_input_policy_trains_on_a_tokenized_tabletop_id(tiny_tokenizer):
    sb3 = pytest.importorskip("stable_baselines3")
    env = TokenizeObservation(
        gym.make(TABLETOP_ID, image_size=(40, 40)), tiny_tokenizer, keys=("rgb", "instruction"), max_tokens=12
    )
    try:
        model = sb3.PPO("MultiInputPolicy", env, n_steps=8, batch_size=8, n_epochs=1, seed=0, device="cpu")
        model.set_logger(silent_logger())
        model.learn(8)
        action, _ = model.predict(env.reset(seed=1)[0])
        assert env.action_space.contains(action)
    finally:
        env.close()
