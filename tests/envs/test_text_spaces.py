"""rlft's Text space: a readable repr, plain-Text behaviour, Minari serialisation and async vector envs."""

from __future__ import annotations

import copy
import pickle

import gymnasium as gym
import numpy as np
import pytest
import rlft  # noqa: F401  (registers the ids)
from gymnasium import spaces
from gymnasium.vector.utils import create_shared_memory, read_from_shared_memory, write_to_shared_memory
from rlft.envs.text import CHARSET, RlftText, SharedText, text_space

TABLETOP_ID = "rlft/TabletopPutBlockInBowl-v0"


def test_repr_names_the_charset_instead_of_listing_it():
    space = text_space(256)
    assert repr(space) == "Text(0, 256, charset=rlft-unicode)"
    nested = spaces.Dict({"instruction": space, "commands": spaces.Sequence(text_space(32))})
    assert len(repr(nested)) < 150
    env = gym.make(TABLETOP_ID)
    try:
        assert len(repr(env.observation_space)) < 400  # the plain Text repr was ~3,900 characters per key
    finally:
        env.close()


def test_behaves_as_a_plain_text_space():
    space = text_space(40, min_length=2)
    plain = spaces.Text(max_length=40, min_length=2, charset=CHARSET)
    assert space == plain and plain == space
    assert space != text_space(41)
    clone = pickle.loads(pickle.dumps(space))
    assert isinstance(clone, RlftText) and clone == space and repr(clone) == repr(space)
    assert copy.deepcopy(space) == space
    space.seed(0)
    samples = [space.sample() for _ in range(20)]
    assert all(space.contains(s) and plain.contains(s) for s in samples)
    assert all(2 <= len(s) <= 40 for s in samples)
    assert (
        space.contains("red block — £3 → 5") and not space.contains("\x00") and not space.contains("x" * 41)
    )


def test_minari_serialises_it_as_a_plain_text():
    serialization = pytest.importorskip("minari.serialization")
    space = spaces.Dict({"instruction": text_space(256), "rgb": spaces.Box(0, 255, (4, 4, 3), np.uint8)})
    back = serialization.deserialize_space(serialization.serialize_space(space))
    assert back == space
    assert back["instruction"].character_set == CHARSET and back["instruction"].max_length == 256


def test_shared_memory_reads_follow_the_buffer():
    space = text_space(16)
    memory = create_shared_memory(space, n=2)
    view = read_from_shared_memory(space, memory, n=2)  # read once, as AsyncVectorEnv does
    assert isinstance(view, SharedText) and view == ("", "") and len(view) == 2
    write_to_shared_memory(space, 0, "red block", memory)
    write_to_shared_memory(space, 1, "é → ok", memory)
    assert view == ("red block", "é → ok") and view[1] == "é → ok" and list(view) == ["red block", "é → ok"]
    frozen = copy.deepcopy(view)
    assert type(frozen) is tuple and frozen == ("red block", "é → ok")
    assert type(copy.copy(view)) is tuple and pickle.loads(pickle.dumps(view)) == frozen
    write_to_shared_memory(space, 0, "", memory)
    assert view[0] == "" and frozen[0] == "red block"


def _expected_instructions(seeds: list[int]) -> list[str]:
    out = []
    for seed in seeds:
        env = gym.make(TABLETOP_ID)
        try:
            out.append(env.reset(seed=seed)[0]["instruction"])
        finally:
            env.close()
    return out


def test_async_vector_env_with_default_shared_memory_delivers_the_instructions():
    envs = gym.make_vec(TABLETOP_ID, num_envs=2, vectorization_mode="async")
    try:
        assert envs.shared_memory
        obs, info = envs.reset(seed=[3, 4])
        expected = _expected_instructions([3, 4])
        assert obs["instruction"] == tuple(expected) and type(obs["instruction"]) is tuple
        assert obs["last_action_error"] == ("", "")
        assert envs.observation_space.contains(obs)
        assert list(info["is_success"]) == [False, False]
        obs, *_ = envs.step(np.zeros((2, 6), np.float32))  # picks nothing: the error text arrives too
        assert all(e.startswith("nothing to pick") for e in obs["last_action_error"])
        assert obs["instruction"] == tuple(expected)
        obs, _ = envs.reset(seed=[5, 6])
        assert obs["instruction"] == tuple(_expected_instructions([5, 6]))
    finally:
        envs.close()


def test_async_vector_env_without_copy_hands_out_a_live_view():
    envs = gym.vector.AsyncVectorEnv([lambda: gym.make(TABLETOP_ID)] * 2, copy=False)
    try:
        obs, _ = envs.reset(seed=[3, 4])
        assert obs["instruction"] == tuple(_expected_instructions([3, 4]))
    finally:
        envs.close()


def test_web_ids_need_shared_memory_off_and_then_deliver_their_text():
    web_id = "rlft/WebFormLogin-v0"
    # admissible_commands is a Sequence: no fixed-size buffer exists, and Gymnasium says how to fix it.
    with pytest.raises(TypeError, match="disable `shared_memory`"):
        gym.make_vec(web_id, num_envs=2, vectorization_mode="async")
    envs = gym.make_vec(
        web_id, num_envs=2, vectorization_mode="async", vector_kwargs={"shared_memory": False}
    )
    try:
        obs, _ = envs.reset(seed=[0, 1])
        single = gym.make(web_id)
        try:
            for i, seed in enumerate([0, 1]):
                expected, _ = single.reset(seed=seed)
                assert obs["instruction"][i] == expected["instruction"]
                assert obs["admissible_commands"][i] == expected["admissible_commands"]
        finally:
            single.close()
    finally:
        envs.close()
