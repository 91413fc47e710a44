"""Recording expert demonstrations into Minari datasets and reading them back (real WebShop env)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import rlft
from rlft.demos import DemoDataset, collect_demos, default_dataset_id, load_demos
from rlft.errors import ConfigError, DatasetError, UnknownEnvError

ENV = "rlft/WebShop-v0"


@pytest.fixture(scope="module")
def shop_demos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demos") / "shop"
    result = collect_demos(ENV, 3, out=out, split="train", seed=7)
    assert result.kept == 3 and result.seeds == [7, 8, 9]
    return out


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            h.update(f.read_bytes())
    return h.hexdigest()


def test_dataset_is_plain_minari_with_text_observations(shop_demos: Path) -> None:
    import minari

    raw = minari.MinariDataset(str(shop_demos / "data"))
    assert raw.total_episodes == 3
    episode = next(raw.iterate_episodes())
    assert isinstance(episode.observations["instruction"][0], str)
    assert isinstance(episode.actions[0], str)
    assert json.loads(episode.observations["admissible_commands"][0])  # stored as a JSON list


def test_episodes_replay_exactly_from_recorded_seeds(shop_demos: Path) -> None:
    dataset = load_demos(shop_demos)
    assert dataset.env_id == ENV and dataset.split == "train"
    assert dataset.dataset_id == default_dataset_id(ENV, "train")
    env = gym.make(ENV, split="train")
    for episode in dataset.episodes():
        assert episode.success and episode.episode_return >= 0.99
        obs, _ = env.reset(seed=episode.seed)
        assert obs == episode.observations[0]
        for action, recorded in zip(episode.actions, episode.observations[1:], strict=True):
            obs, *_ = env.step(action)
            assert env.observation_space.contains(recorded)
            assert obs == recorded
    env.close()
    assert len(dataset.transitions()) == dataset.total_steps


def test_success_filter_and_keep_failures(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="keep-failures"):
        collect_demos(ENV, 2, out=tmp_path / "none", min_return=1.5, max_attempts=2)
    assert not (tmp_path / "none").exists()  # nothing half-written
    kept = collect_demos(ENV, 2, out=tmp_path / "all", min_return=1.5, keep_failures=True)
    assert kept.kept == 2
    assert load_demos(tmp_path / "all").collect_stats["keep_failures"] is True


def test_split_is_recorded_and_passed_to_the_env(tmp_path: Path) -> None:
    result = collect_demos(ENV, 1, out=tmp_path / "test", split="test")
    dataset = load_demos(result.path)
    assert dataset.split == "test" and dataset.env_kwargs == {}
    episode = next(dataset.episodes())
    env = gym.make(ENV, split="test")
    obs, _ = env.reset(seed=episode.seed)
    assert obs["instruction"] == episode.observations[0]["instruction"]


def test_existing_dataset_is_never_overwritten_silently(shop_demos: Path) -> None:
    before = _digest(shop_demos)
    with pytest.raises(ConfigError, match="overwrite"):
        collect_demos(ENV, 1, out=shop_demos)
    assert _digest(shop_demos) == before


def test_bad_inputs_fail_with_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(UnknownEnvError, match="WebShop"):
        collect_demos("rlft/WebShp-v0", 1, out=tmp_path / "x")
    with pytest.raises(DatasetError, match="rlft collect"):
        load_demos(tmp_path / "missing")
    with pytest.raises(ConfigError):
        collect_demos(ENV, 0, out=tmp_path / "y")


def test_corrupt_dataset_fails_fast(shop_demos: Path, tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(shop_demos, broken)
    (broken / "data" / "main_data.hdf5").write_bytes(b"not an hdf5 file")
    with pytest.raises(DatasetError, match="cannot be read"):
        DemoDataset(broken)


def test_image_observations_round_trip_losslessly(tmp_path: Path) -> None:
    tabletop = [i for i in rlft.ENV_IDS if i.endswith("TabletopPutBlockInBowl-v0")]
    if not tabletop:
        pytest.skip("tabletop environments are not registered yet")
    result = collect_demos(tabletop[0], 1, out=tmp_path / "tt")
    episode = next(load_demos(result.path).episodes())
    env = gym.make(tabletop[0], split="train")
    obs, _ = env.reset(seed=episode.seed)
    np.testing.assert_array_equal(obs["rgb"], episode.observations[0]["rgb"])
    assert episode.actions[0].dtype == np.float32 and episode.actions[0].shape == (6,)


def test_an_env_without_an_expert_is_a_typed_error() -> None:
    from rlft.demos.record import ExpertEnv, expert_action

    env = gym.make(ENV)
    try:
        env.reset(seed=0)
        assert isinstance(env.unwrapped, ExpertEnv)
        assert isinstance(expert_action(env), str)
    finally:
        env.close()
    cartpole = gym.make("CartPole-v1")
    with pytest.raises(ConfigError, match="no expert_action"):
        expert_action(cartpole)
    cartpole.close()
