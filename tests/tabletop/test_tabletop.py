"""Behaviour of the tabletop environments: experts, splits, determinism, action modes, errors, media."""

from __future__ import annotations

import hashlib
import math
import pickle
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import rlft
from rlft.envs.contract import CORE_INFO_KEYS, SPLITS
from rlft.envs.registration import TABLETOP_MAX_STEPS, TABLETOP_TASKS
from rlft.envs.tabletop.env import TabletopEnv
from rlft.envs.tabletop.objects import (
    HELD_OUT_COLORS,
    HELD_OUT_SHAPES,
    SEEN_COLORS,
    SEEN_SHAPES,
    SPLIT_COLORS,
    SPLIT_SHAPES,
    uv_to_world,
    world_to_uv,
)
from rlft.envs.tabletop.tasks import TASKS
from rlft.envs.tabletop.video import save_video
from rlft.errors import ConfigError, DependencyError, UnknownNameError

TASK_KEYS = sorted(TASKS)


def run_expert(env: TabletopEnv, seed: int) -> tuple[dict, float]:
    env.reset(seed=seed)
    total, done, info = 0.0, False, {}
    while not done:
        _, reward, terminated, truncated, info = env.step(env.expert_action())
        total += reward
        done = terminated or truncated
    return info, total


def obs_digest(obs: dict) -> str:
    h = hashlib.sha256()
    for key in sorted(obs):
        value = obs[key]
        h.update(value.encode() if isinstance(value, str) else np.ascontiguousarray(value).tobytes())
    return h.hexdigest()


def test_every_task_family_is_registered_with_an_id():
    assert len(TASKS) >= 10
    assert sorted(key for key, _ in TABLETOP_TASKS.values()) == TASK_KEYS
    for name in TABLETOP_TASKS:
        assert f"rlft/{name}-v0" in rlft.ENV_IDS


@pytest.mark.parametrize("task", TASK_KEYS)
def test_expert_solves_task_and_return_equals_final_score(task):
    env = TabletopEnv(task)
    try:
        for seed in (0, 1):
            info, total = run_expert(env, seed)
            assert info["success"], (task, seed, info)
            assert info["score"] == pytest.approx(1.0)
            # Rewards are score differences, so the return telescopes to the final score.
            assert total == pytest.approx(info["score"])
    finally:
        env.close()


@pytest.mark.parametrize("task", TASK_KEYS)
def test_test_split_uses_held_out_colours_and_is_solvable(task):
    env = TabletopEnv(task, split="test")
    try:
        _, info = env.reset(seed=3)
        assert info["split"] == "test"
        colours = {o.spec.color for o in env.scene.objects}
        assert colours <= set(HELD_OUT_COLORS)
        assert not colours & set(SEEN_COLORS)
        kinds = {o.spec.kind for o in env.scene.objects if o.spec.movable} - {"block", "disk"}
        assert kinds <= set(HELD_OUT_SHAPES)
        info, _ = run_expert(env, 3)
        assert info["success"]
    finally:
        env.close()


def test_split_mapping_follows_the_shared_vocabulary():
    assert set(SPLIT_COLORS) == set(SPLITS) and set(SPLIT_SHAPES) == set(SPLITS)
    assert SPLIT_COLORS["train"] == SPLIT_COLORS["validation"] == SEEN_COLORS
    assert SPLIT_SHAPES["train"] == SPLIT_SHAPES["validation"] == SEEN_SHAPES
    assert SPLIT_COLORS["test"] == HELD_OUT_COLORS and SPLIT_SHAPES["test"] == HELD_OUT_SHAPES
    assert not set(SEEN_COLORS) & set(HELD_OUT_COLORS) and not set(SEEN_SHAPES) & set(HELD_OUT_SHAPES)


def test_unseen_is_an_alias_of_test_with_identical_episodes():
    envs = [TabletopEnv("pack_object_in_box", split=split) for split in ("unseen", "test")]
    try:
        digests = []
        for env in envs:
            assert env.split == env.task.split == "test"
            obs, info = env.reset(seed=4)
            assert info["split"] == "test"
            obs, *_ = env.step(env.expert_action())
            digests.append(obs_digest(obs))
        assert digests[0] == digests[1]
    finally:
        for env in envs:
            env.close()


def test_validation_split_draws_seen_colours_and_reports_its_name():
    env = TabletopEnv("pack_object_in_box", split="validation")
    try:
        for seed in range(3):
            _, info = env.reset(seed=seed)
            assert info["split"] == "validation"
            assert {o.spec.color for o in env.scene.objects} <= set(SEEN_COLORS)
    finally:
        env.close()


def test_train_split_never_shows_unseen_colours():
    env = TabletopEnv("pack_object_in_box")
    try:
        for seed in range(5):
            env.reset(seed=seed)
            assert {o.spec.color for o in env.scene.objects} <= set(SEEN_COLORS)
    finally:
        env.close()


def test_instructions_vary_and_name_the_goal():
    env = TabletopEnv("put_block_in_bowl")
    try:
        texts = set()
        for seed in range(12):
            obs, _ = env.reset(seed=seed)
            target = env.task.target.spec.name
            assert target in obs["instruction"]
            texts.add(obs["instruction"])
        assert len(texts) >= 8
    finally:
        env.close()


def test_same_seed_and_actions_give_identical_observations_after_other_episodes():
    fresh, used = TabletopEnv("stack_blocks"), TabletopEnv("stack_blocks")
    try:
        run_expert(used, 7)  # a different history: other bodies were created and removed
        digests = []
        for env in (fresh, used):
            obs, _ = env.reset(seed=11)
            trace = [obs_digest(obs)]
            for action in ([0.1, 0.2, 0.0, -0.3, 0.4, 0.5], None):
                obs, *_ = env.step(env.expert_action() if action is None else np.array(action, np.float32))
                trace.append(obs_digest(obs))
            digests.append(trace)
        assert digests[0] == digests[1]
    finally:
        fresh.close()
        used.close()


CROSS_PROCESS = """
import hashlib, numpy as np
from rlft.envs.tabletop.env import TabletopEnv
env = TabletopEnv("towers_of_hanoi", heightmap=True)
obs, _ = env.reset(seed=5)
h = hashlib.sha256()
for _ in range(3):
    obs, *_ = env.step(env.expert_action())
for key in sorted(obs):
    v = obs[key]
    h.update(v.encode() if isinstance(v, str) else np.ascontiguousarray(v).tobytes())
print(h.hexdigest())
"""


def test_observations_are_bit_identical_across_processes():
    out = [
        subprocess.run([sys.executable, "-c", CROSS_PROCESS], capture_output=True, text=True, check=True)
        .stdout.strip()
        .splitlines()[-1]
        for _ in range(2)
    ]
    assert out[0] == out[1]
    assert len(out[0]) == 64


@pytest.mark.parametrize(
    "action",
    [
        np.full(6, np.nan, np.float32),
        np.array([np.inf, 0, 0, 0, 0, 0], np.float32),
        np.zeros(3, np.float32),
        None,
        "pick the red block",
        [[0.1] * 6],
    ],
    ids=["nan", "inf", "short", "none", "string", "nested"],
)
def test_malformed_actions_are_noops_with_an_error(action):
    env = TabletopEnv("put_block_on_block", invalid_action_penalty=0.1)
    try:
        env.reset(seed=0)
        before = [env.scene.position(o).copy() for o in env.scene.objects]
        obs, reward, terminated, truncated, info = env.step(action)
        assert obs["last_action_error"].startswith("invalid action")
        assert info["last_action_error"] == obs["last_action_error"]
        assert reward == pytest.approx(-0.1) and not terminated and not truncated
        assert env.observation_space.contains(obs)
        after = [env.scene.position(o) for o in env.scene.objects]
        assert all(np.allclose(a, b) for a, b in zip(before, after, strict=True))
        obs, *_ = env.step(env.expert_action())
        assert obs["last_action_error"] == ""
    finally:
        env.close()


def test_out_of_range_action_is_clipped_and_reported():
    env = TabletopEnv("put_block_in_bowl")
    try:
        env.reset(seed=0)
        action = env.expert_action().astype(np.float64)
        action[2] = 5.0  # an absurd yaw still executes, clipped to pi
        obs, *_ = env.step(action)
        assert "clipped" in obs["last_action_error"]
    finally:
        env.close()


def test_pick_on_empty_table_reports_nothing_to_pick():
    env = TabletopEnv("put_block_in_bowl")
    try:
        env.reset(seed=0)
        occupied = [world_to_uv(env.scene.position(o)) for o in env.scene.objects]
        spot = next(
            (u, v)
            for u in np.linspace(-0.9, 0.9, 7)
            for v in np.linspace(-0.9, 0.9, 7)
            if all(math.hypot(u - a, v - b) > 0.4 for a, b in occupied)
        )
        obs, reward, *_ = env.step(np.array([spot[0], spot[1], 0, 0, 0, 0], np.float32))
        assert "nothing to pick" in obs["last_action_error"]
        assert reward == 0.0
    finally:
        env.close()


def test_pick_place_moves_and_turns_the_object():
    env = TabletopEnv("put_block_on_block")
    try:
        env.reset(seed=2)
        block = env.task.target
        start = env.scene.position(block)
        u, v = world_to_uv(start)
        goal = uv_to_world(0.0, 0.0)
        yaw0 = env.scene.yaw(block)
        env.step(np.array([u, v, 0.0, 0.0, 0.0, 0.125], np.float32))  # turn by pi/8
        end = env.scene.position(block)
        assert np.linalg.norm(end[:2] - goal) < 0.01
        turn = (env.scene.yaw(block) - yaw0 - math.pi / 8 + math.pi / 4) % (math.pi / 2) - math.pi / 4
        assert abs(turn) < 0.05
    finally:
        env.close()


@pytest.mark.parametrize("task", ["put_block_in_bowl", "stack_blocks"])
def test_ee_delta_expert_solves_with_physics(task):
    env = TabletopEnv(task, action_mode="ee_delta")
    try:
        assert env.action_space.shape == (5,)
        info, total = run_expert(env, 0)
        assert info["success"], info
        assert total == pytest.approx(1.0)
    finally:
        env.close()


def test_ee_delta_moves_the_cup_and_suction_holds_only_on_contact():
    env = TabletopEnv("put_block_in_bowl", action_mode="ee_delta")
    try:
        env.reset(seed=0)
        robot = env.scene.robot
        start = robot.tip_pose()[0]
        for _ in range(4):
            env.step(np.array([1.0, 0.0, -1.0, 0.0, 1.0], np.float32))  # suction on, in mid-air
        moved = robot.tip_pose()[0] - start
        assert moved[0] > 0.05 and moved[2] < -0.05
        assert robot.held is None
    finally:
        env.close()


def test_heightmap_sees_the_block_at_its_place():
    env = TabletopEnv("put_block_on_block", heightmap=True, camera="top")
    try:
        obs, _ = env.reset(seed=1)
        assert obs["heightmap"].shape == (64, 96) and obs["colormap"].shape == (64, 96, 3)
        block = env.task.target
        u, v = world_to_uv(env.scene.position(block))
        row, col = int((v + 1) / 2 * 64), int((u + 1) / 2 * 96)
        assert obs["heightmap"][row, col] == pytest.approx(0.04, abs=0.006)
        assert obs["heightmap"][0, 0] < 0.005  # table
        assert env.observation_space.contains(obs)
    finally:
        env.close()


def test_depth_is_metric():
    env = TabletopEnv("place_in_zone", camera="top")
    try:
        obs, _ = env.reset(seed=0)
        eye_height = env.camera.eye[2]
        # The image centre looks straight down at the table (or an object standing on it).
        assert eye_height - 0.06 <= obs["depth"][48, 48] <= eye_height + 0.001
    finally:
        env.close()


def test_gym_make_kwargs_and_checker():
    env = gym.make("rlft/TabletopStackPyramid-v0", image_size=(64, 80), render_mode="rgb_array")
    try:
        obs, info = env.reset(seed=0)
        assert obs["rgb"].shape == (64, 80, 3) and obs["depth"].dtype == np.float32
        assert info["success"] is False and "pyramid" in obs["instruction"]
        frame = env.render()
        assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8
        from gymnasium.utils.env_checker import check_env

        check_env(env.unwrapped, skip_render_check=True)
    finally:
        env.close()
        env.close()


def test_truncates_at_max_steps():
    env = TabletopEnv("towers_of_hanoi", max_steps=2)
    try:
        env.reset(seed=0)
        _, _, terminated, truncated, _ = env.step(env.expert_action())
        assert not truncated
        _, _, terminated, truncated, _ = env.step(env.expert_action())
        assert truncated and not terminated
    finally:
        env.close()


def test_bad_kwargs_raise_typed_errors():
    with pytest.raises(UnknownNameError, match="stack_blocks"):
        TabletopEnv("stack_block")
    with pytest.raises(ConfigError, match=r"'validation'.*'test'.*'unseen'"):
        TabletopEnv("stack_blocks", split="seen")
    with pytest.raises(ConfigError, match="pick_place"):
        TabletopEnv("stack_blocks", action_mode="joint")
    with pytest.raises(ConfigError):
        TabletopEnv("stack_blocks", image_size=(8, 8))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"heighmap": True}, "unknown keyword argument 'heighmap'. Did you mean 'heightmap'"),
        ({"colour": "red"}, "Known keyword arguments: task, split"),
        ({"heightmap": "yes"}, "heightmap='yes'.*True or False"),
        ({"heightmap": 1}, "heightmap=1"),
        ({"heightmap": None}, "heightmap=None"),
        ({"invalid_action_penalty": 5.0}, r"\[0.0, 1.0\]"),
        ({"invalid_action_penalty": float("nan")}, "invalid_action_penalty"),
        ({"invalid_action_penalty": -0.1}, "invalid_action_penalty"),
        ({"invalid_action_penalty": True}, "invalid_action_penalty"),
        ({"max_steps": True}, "max_steps"),
        ({"max_steps": 0}, "max_steps"),
        ({"image_size": (64.0, 64)}, "image_size"),
        ({"camera": "side"}, "camera"),
        ({"render_mode": "ansi"}, "render_mode"),
        ({"split": None}, "split"),
    ],
)
@pytest.mark.filterwarnings("ignore:.*not in the possible render_modes:UserWarning")  # gym.make's own notice
def test_every_kwarg_is_validated_with_a_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        gym.make("rlft/TabletopStackBlocks-v0", **kwargs)


def test_the_largest_penalty_is_accepted_and_charged():
    env = TabletopEnv("stack_blocks", invalid_action_penalty=1.0)
    try:
        env.reset(seed=0)
        _, reward, *_ = env.step(None)
        assert reward == pytest.approx(-1.0)
    finally:
        env.close()


def test_info_holds_the_core_keys_then_tabletop_extras():
    env = gym.make("rlft/TabletopPutBlockInBowl-v0")
    try:
        _, info = env.reset(seed=0)
        assert tuple(info)[: len(CORE_INFO_KEYS)] == CORE_INFO_KEYS
        assert {"subgoals", "task", "split"} <= set(info)
        assert info["is_success"] is info["success"] is False
        _, _, terminated, _, info = env.step(env.unwrapped.expert_action())
        assert terminated and info["success"] is info["is_success"] is True
        assert info["score"] == 1.0 and info["last_action_error"] == ""
    finally:
        env.close()


def test_registered_time_limit_matches_each_tasks_own_truncation():
    for name, (task, _) in TABLETOP_TASKS.items():
        assert (
            gym.spec(f"rlft/{name}-v0").max_episode_steps == TASKS[task].max_steps == TABLETOP_MAX_STEPS[task]
        )
    env = gym.make("rlft/TabletopPutBlockInBowl-v0")
    try:
        assert env.spec.max_episode_steps == env.unwrapped.max_steps == 4
        env.reset(seed=0)
        for step in range(1, 5):
            _, _, terminated, truncated, _ = env.step(np.zeros(6, np.float32))  # picks nothing
            assert not terminated and truncated == (step == 4)
            # The env's own truncation and TimeLimit's fire at the same step.
            assert env.unwrapped._ended == truncated
    finally:
        env.close()


def test_a_longer_episode_through_gym_make_needs_max_episode_steps_too():
    env = gym.make("rlft/TabletopPutBlockInBowl-v0", max_steps=6, max_episode_steps=6)
    try:
        assert env.spec.max_episode_steps == env.unwrapped.max_steps == 6
        env.reset(seed=0)
        truncations = [env.step(np.zeros(6, np.float32))[3] for _ in range(6)]
        assert truncations == [False] * 5 + [True]
    finally:
        env.close()


def test_a_time_limit_cut_is_reported_once(caplog):
    env = gym.make("rlft/TabletopPutBlockInBowl-v0", action_mode="ee_delta")  # 160 steps, TimeLimit at 4
    try:
        with caplog.at_level("WARNING", logger="rlft.envs.tabletop.env"):
            for _ in range(2):
                env.reset(seed=0)
                truncations = [env.step(np.zeros(5, np.float32))[3] for _ in range(4)]
                assert truncations == [False, False, False, True]
            env.reset(seed=0)
        warnings = [r.getMessage() for r in caplog.records]
        assert len(warnings) == 1 and "pass max_episode_steps=160 to gym.make" in warnings[0]
    finally:
        env.close()
    caplog.clear()
    env = gym.make("rlft/TabletopPutBlockInBowl-v0", action_mode="ee_delta", max_episode_steps=160)
    try:
        with caplog.at_level("WARNING", logger="rlft.envs.tabletop.env"):
            env.reset(seed=0)
            assert not any(env.step(np.zeros(5, np.float32))[3] for _ in range(5))
            env.reset(seed=0)
        assert not caplog.records
    finally:
        env.close()


def test_pickled_env_recreates_the_same_episodes():
    env = gym.make("rlft/TabletopStackBlocks-v0", split="unseen", heightmap=True, image_size=(48, 64))
    try:
        env.reset(seed=1)
        clone = pickle.loads(pickle.dumps(env))
        try:
            assert clone.unwrapped.split == "test" and clone.unwrapped.use_heightmap
            assert clone.observation_space == env.observation_space
            # A clone has a physics client of its own (a copied client id would share one simulation).
            assert clone.unwrapped.sim.client != env.unwrapped.sim.client
            digests = []
            for e in (env, clone):
                obs, _ = e.reset(seed=9)
                obs, *_ = e.step(e.unwrapped.expert_action())
                digests.append(obs_digest(obs))
            assert digests[0] == digests[1]
            env.close()
            clone.reset(seed=9)
            obs, *_ = clone.step(clone.unwrapped.expert_action())
            assert obs_digest(obs) == digests[1]
        finally:
            clone.close()
    finally:
        env.close()


def test_missing_pybullet_raises_a_dependency_error_naming_the_extra():
    code = (
        "import sys; sys.modules['pybullet'] = None\n"
        "import gymnasium as gym, rlft\n"
        "from rlft.errors import DependencyError\n"
        "try:\n"
        "    gym.make('rlft/TabletopStackBlocks-v0')\n"
        "except DependencyError as error:\n"
        "    print('DependencyError:', error)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "DependencyError: pybullet is not installed" in out
    assert "pip install 'rlft[tabletop]'" in out


def test_missing_imageio_raises_a_dependency_error_naming_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "imageio.v2", None)
    with pytest.raises(DependencyError, match=r"rlft\[tabletop\]"):
        save_video([np.zeros((16, 16, 3), np.uint8)], tmp_path / "x.gif")


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_episode_saves_as_video(tmp_path, suffix):
    env = TabletopEnv("put_block_in_bowl", render_mode="rgb_array")
    try:
        env.reset(seed=0)
        frames = [env.render()]
        env.step(env.expert_action())
        frames.append(env.render())
        path = save_video(frames, tmp_path / f"episode{suffix}")
        assert path.stat().st_size > 1000
    finally:
        env.close()
    with pytest.raises(ConfigError):
        save_video(frames, tmp_path / "episode.avi")


@pytest.mark.parametrize("mode", ["pick_place", "ee_delta"])
def test_random_actions_keep_observations_in_space(mode):
    env = TabletopEnv("stack_blocks", action_mode=mode, heightmap=True, max_steps=1000)
    try:
        env.reset(seed=4)
        env.action_space.seed(4)
        for _ in range(25 if mode == "pick_place" else 60):
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            assert env.observation_space.contains(obs)
            assert -1.0 <= reward <= 1.0 and isinstance(info["success"], bool)
            if terminated or truncated:
                env.reset()
        # Every object is still somewhere sensible: on or above the table, not launched or sunk.
        for obj in env.scene.objects:
            pos = env.scene.position(obj)
            assert -0.05 < pos[2] < 0.5
    finally:
        env.close()


def test_ee_delta_target_outside_workspace_is_clipped_and_reported():
    env = TabletopEnv("place_in_zone", action_mode="ee_delta")
    try:
        env.reset(seed=0)
        obs, *_ = env.step(np.array([0.0, 0.0, 1.0, 0.0, -1.0], np.float32))  # up from the top of the range
        assert "outside the workspace" in obs["last_action_error"]
        assert env.scene.robot.target_pos[2] <= 0.35 + 1e-9
    finally:
        env.close()


@pytest.mark.integration
@pytest.mark.parametrize("task", TASK_KEYS)
def test_ee_delta_expert_solves_every_task(task):
    env = TabletopEnv(task, action_mode="ee_delta")
    try:
        info, _ = run_expert(env, 0)
        assert info["success"], info
    finally:
        env.close()


@pytest.mark.integration
@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("task", TASK_KEYS)
def test_pick_place_expert_over_many_seeds(task, split):
    env = TabletopEnv(task, split=split)
    try:
        solved = sum(run_expert(env, seed)[0]["success"] for seed in range(100, 120))
        assert solved >= 19
    finally:
        env.close()


def test_heightmap_pixels_map_to_pick_actions():
    from rlft.envs.tabletop.objects import pixel_to_uv

    env = TabletopEnv("put_block_on_block", heightmap=True)
    try:
        obs, _ = env.reset(seed=5)
        hm = obs["heightmap"]
        row, col = np.unravel_index(int(np.argmax(hm)), hm.shape)
        u, v = pixel_to_uv(row, col, hm.shape)
        obs, *_ = env.step(np.array([u, v, 0.0, 0.0, 0.0, 0.0], np.float32))
        assert obs["last_action_error"] == ""  # the cup found an object where the heightmap peaks
        # The object keeps its offset from the cup, which held it somewhere on its top face.
        centre = uv_to_world(0.0, 0.0)
        assert any(np.linalg.norm(env.scene.position(o)[:2] - centre) < 0.03 for o in env.scene.objects)
    finally:
        env.close()


@pytest.mark.parametrize("task", ["stack_blocks", "put_block_on_block", "stack_pyramid"])
def test_expert_recovers_from_a_wrong_stack(task):
    env = TabletopEnv(task, max_steps=30)
    try:
        env.reset(seed=0)
        blocks = [o for o in env.scene.objects if o.spec.movable]
        # Bury the block the task needs first under another one.
        first = env.task.blocks[0] if hasattr(env.task, "blocks") else env.task.base
        target = getattr(env.task, "target", first)  # put_block_on_block: never pile the goal block itself
        other = next(b for b in blocks if b.body not in (first.body, target.body))
        wrong = np.concatenate(
            [world_to_uv(env.scene.position(other)), [0.0], world_to_uv(env.scene.position(first)), [0.0]]
        )
        env.step(wrong.astype(np.float32))
        assert env.scene.on_top_of(other, first)
        done, info = False, {"success": False}
        while not done:
            _, _, terminated, truncated, info = env.step(env.expert_action())
            done = terminated or truncated
        assert info["success"]
    finally:
        env.close()
