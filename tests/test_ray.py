"""Environments on Ray: the same trajectories as the local vector envs, worker restarts, the commands.

One module-scoped local cluster (a head and a second node on this machine, one CPU each) serves every
test; its teardown checks that no process it started is left. The three slowest tests (about 20 s each
on a loaded two-core machine: SB3 views with a policy in every worker, a worker restart, a PPO run) are
marked integration.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import psutil
import pytest
from rlft.agents.study.analysis import CSV_COLUMNS
from rlft.demos.envs import make_env
from rlft.errors import ConfigError, DependencyError, EnvWorkerError

ray = pytest.importorskip("ray")

from rlft.envs.ray_vector import RayEnvPool, RayVectorEnv, restart_seed  # noqa: E402

WEB = "rlft/WebFormLogin-v0"
WORKER = {"num_cpus": 0.25}
"""Small CPU requests, so several workers fit on the two one-CPU nodes."""
ON_RAY: dict[str, Any] = {"ray": "local", "num_workers": 2, "envs_per_worker": 1, "worker_cpus": 0.25}
"""The distributed fields of the command tests (Ray is already connected to the test cluster)."""


def _descendants() -> set[tuple[int, float]]:
    """(pid, create time) of every process below this one (raylets, GCS, Ray workers)."""
    out = set()
    for child in psutil.Process().children(recursive=True):
        try:
            out.add((child.pid, child.create_time()))
        except psutil.NoSuchProcess:
            continue
    return out


def _alive(procs: set[tuple[int, float]]) -> list[int]:
    alive = []
    for pid, created in procs:
        try:
            p = psutil.Process(pid)
            if p.create_time() == created and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            continue
    return alive


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A head node and a second node on 127.0.0.1; on teardown, every process it started has ended."""
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    earlier = _descendants()  # e.g. multiprocessing's resource tracker, started by an earlier test
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    c.add_node(num_cpus=1)
    ray.init(address=c.address, logging_level="WARNING")
    c.wait_for_nodes()
    seen: set[tuple[int, float]] = set()

    class Watch:
        """Remembers every Ray process started below this one (workers come and go)."""

        def look(self) -> None:
            seen.update(_descendants() - earlier)

    watch = Watch()
    watch.look()
    yield watch
    watch.look()
    ray.shutdown()
    c.shutdown()
    deadline = time.monotonic() + 20
    while _alive(seen) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _alive(seen)
    assert not left, f"Ray processes left after shutdown: {left}"
    assert len(seen) >= 3  # GCS and two raylets at least: the check looked at something


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


def _web_factory(max_steps: int = 4) -> Any:
    return functools.partial(make_env, WEB, "train", {}, max_steps=max_steps)


def _random_commands(obs: dict[str, Any], rng: np.random.Generator) -> tuple[str, ...]:
    return tuple(str(c[int(rng.integers(len(c)))]) if len(c) else "" for c in obs["admissible_commands"])


def test_vector_env_matches_sync_vector_env(cluster: Any) -> None:
    fns = [_web_factory()] * 3
    remote = RayVectorEnv(fns, envs_per_worker=2, worker_options=WORKER)
    local = gym.vector.SyncVectorEnv(fns)
    try:
        assert remote.observation_space == local.observation_space
        assert remote.single_action_space == local.single_action_space
        assert remote.pool.num_workers == 2
        first, local_first = remote.reset(seed=7), local.reset(seed=7)
        assert _equal(first, local_first)
        rng = np.random.default_rng(0)
        obs = local_first[0]
        ended = 0
        for _ in range(10):  # max_steps=4: episodes end and autoreset on the next step
            actions = _random_commands(obs, rng)
            got, want = remote.step(actions), local.step(actions)
            assert _equal(got, want)
            obs = want[0]
            ended += int(np.sum(want[2] | want[3]))
            assert remote.call("expert_action") == local.call("expert_action")
        assert ended > 0
        remote.set_attr("spec_note", [1, 2, 3])
        assert remote.get_attr("spec_note") == (1, 2, 3)
        cluster.look()
    finally:
        remote.close()
        local.close()


@pytest.fixture(scope="module")
def web_policy() -> Any:
    """A tiny web policy (random weights): its encoder gives the SB3 view of the web env."""
    from rlft.policies import PolicyConfig, build_policy

    probe = make_env(WEB, "train")
    try:
        config = PolicyConfig(backbone="tiny-bert", seed=0)
        return build_policy(config, probe.observation_space, probe.action_space, progress=False)
    finally:
        probe.close()


def _sb3_factory(policy: Any, max_steps: int) -> Any:
    from rlft.agents.ray_envs import sb3_env_factory

    record = {"env_id": WEB, "split": "train", "env_kwargs": {}, "max_steps": max_steps}
    return sb3_env_factory(record, policy, remote=True)


@pytest.mark.integration
def test_sb3_vec_env_matches_dummy_and_subproc(cluster: Any, web_policy: Any) -> None:
    from rlft.agents.ray_vec_env import RayVecEnv
    from sb3_contrib.common.maskable.utils import get_action_masks
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    factory = _sb3_factory(web_policy, max_steps=3)
    venvs = {
        "ray": RayVecEnv([factory] * 3, envs_per_worker=2, worker_options=WORKER),
        "dummy": DummyVecEnv([factory] * 3),
        "subproc": SubprocVecEnv([factory] * 3, start_method="fork"),
    }
    try:
        assert venvs["ray"].env_is_wrapped(Monitor) == [True] * 3
        for venv in venvs.values():
            venv.seed(11)
        obs = {name: venv.reset() for name, venv in venvs.items()}
        assert _equal(obs["ray"], obs["dummy"]) and _equal(obs["ray"], obs["subproc"])
        assert _equal(venvs["ray"].reset_infos, venvs["dummy"].reset_infos)
        rng = np.random.default_rng(1)
        dones = 0
        for _ in range(8):
            masks = {name: get_action_masks(venv) for name, venv in venvs.items()}
            assert _equal(masks["ray"], masks["dummy"]) and _equal(masks["ray"], masks["subproc"])
            actions = np.array([rng.choice(np.flatnonzero(row)) for row in masks["dummy"]])
            results = {name: venv.step(actions) for name, venv in venvs.items()}
            for name in ("dummy", "subproc"):
                ray_obs, ray_rew, ray_done, ray_infos = results["ray"]
                obs_, rew, done, infos = results[name]
                assert _equal(ray_obs, obs_) and _equal(ray_rew, rew) and _equal(ray_done, done)
                for a, b in zip(ray_infos, infos, strict=True):
                    drop = {"episode"}  # Monitor's wall-clock time differs
                    assert _equal(
                        {k: v for k, v in a.items() if k not in drop},
                        {k: v for k, v in b.items() if k not in drop},
                    )
                    assert ("episode" in a) == ("episode" in b)
            assert results["ray"][1].dtype == results["dummy"][1].dtype
            dones += int(results["dummy"][2].sum())
        assert dones > 0
    finally:
        for venv in venvs.values():
            venv.close()


@pytest.mark.integration
def test_killed_worker_is_restarted_and_its_episodes_truncated(cluster: Any, web_policy: Any) -> None:
    from rlft.agents.ray_vec_env import RayVecEnv

    factory = _sb3_factory(web_policy, max_steps=50)
    venv = RayVecEnv([factory] * 4, envs_per_worker=2, worker_options=WORKER, timeout_s=60)
    try:
        venv.seed(3)
        venv.reset()
        before = venv.pool.worker_pids()
        cluster.look()
        masks = np.stack(venv.env_method("action_masks"))
        actions = masks.sum(axis=1) % masks.shape[1]  # an empty slot: a no-op, the episodes go on
        obs, _, dones, _ = venv.step(actions)
        assert not dones.any()
        os.kill(before[0], signal.SIGKILL)  # a crash of worker 0 (envs 0 and 1)
        obs_after, rewards, dones, infos = venv.step(actions)
        cluster.look()
        local = factory()
        for i in (0, 1):
            assert dones[i] and rewards[i] == 0.0
            assert infos[i]["TimeLimit.truncated"] and infos[i]["worker_restarted"]
            assert _equal(infos[i]["terminal_observation"], {k: v[i] for k, v in obs.items()})
            # the new episode is a fresh env's reset with the derived seed
            fresh, _ = local.reset(seed=restart_seed(3 + i, i, 1))
            assert _equal({k: v[i] for k, v in obs_after.items()}, fresh)
        local.close()
        assert not dones[2] and not dones[3] and "worker_restarted" not in infos[2]
        after = venv.pool.worker_pids()
        assert after[0] != before[0] and after[1] == before[1]
        assert venv.pool.restarts == [1, 0]
        venv.step(actions)  # the new worker serves on
    finally:
        venv.close()


def test_map_episodes_reruns_an_episode_whose_worker_died(cluster: Any) -> None:
    pool = RayEnvPool([_web_factory(max_steps=6)] * 2, envs_per_worker=1, worker_options=WORKER)
    killed: list[int] = []

    def episode(env: gym.Env, slot: int, seed: int) -> tuple[int, list[str]]:
        obs, _ = env.reset(seed=seed)
        pages = [obs["page"]]
        for step in range(3):
            if seed == 12 and step == 1 and not killed:
                killed.append(pool.worker_pids()[slot])
                os.kill(killed[0], signal.SIGKILL)
            obs, *_ = env.step(env.unwrapped.expert_action())  # type: ignore[attr-defined]
            pages.append(obs["page"])
        return seed, pages

    try:
        got = list(pool.map_episodes(episode, range(10, 15)))
        cluster.look()
    finally:
        pool.close()
    local = make_env(WEB, "train", {}, max_steps=6)
    try:
        want = [episode(local, 0, s) for s in range(10, 15)]
    finally:
        local.close()
    assert killed and sum(pool.restarts) == 1
    assert got == want


def test_collect_ray_writes_the_same_dataset(cluster: Any, tmp_path: Path) -> None:
    from rlft.agents.collect import CollectConfig, run_collect
    from rlft.demos import load_demos

    common: dict[str, Any] = {"env_id": WEB, "episodes": 3, "seed": 5, "progress": False}
    local = run_collect(CollectConfig(out_dir=str(tmp_path / "local"), **common))
    remote = run_collect(CollectConfig(out_dir=str(tmp_path / "ray"), **ON_RAY, **common))
    cluster.look()
    assert (remote.kept, remote.attempted, remote.steps, remote.seeds) == (
        local.kept,
        local.attempted,
        local.steps,
        local.seeds,
    )
    a, b = load_demos(local.path), load_demos(remote.path)
    meta_a, meta_b = dict(a.minari.storage.metadata), dict(b.minari.storage.metadata)
    assert meta_a.keys() == meta_b.keys()
    assert {k: v for k, v in meta_a.items() if "path" not in k} == {
        k: v for k, v in meta_b.items() if "path" not in k
    }
    for x, y in zip(a.episodes(), b.episodes(), strict=True):
        assert x.seed == y.seed and x.actions == y.actions and x.success == y.success
        assert _equal(x.rewards, y.rewards) and _equal(x.observations, y.observations)


def test_eval_ray_gives_the_same_report(cluster: Any) -> None:
    from rlft.agents.evaluate import EvalConfig, run_eval

    common: dict[str, Any] = {"env_id": WEB, "agent": "random", "episodes": 4, "max_steps": 5, "seed": 3}
    local = run_eval(EvalConfig(progress=False, **common))
    remote = run_eval(EvalConfig(progress=False, **ON_RAY, **common))
    cluster.look()
    for x, y in zip(local.results, remote.results, strict=True):
        assert (x.returns, x.lengths, x.successes, x.seeds) == (y.returns, y.lengths, y.successes, y.seeds)


@pytest.mark.integration
def test_train_rl_ray_learns_the_same_policy(
    cluster: Any, tmp_path: Path, tiny_rl_settings: dict[str, Any], weights: Any
) -> None:
    from rlft.agents.rl import RLConfig, train_rl

    local = train_rl(RLConfig(out_dir=str(tmp_path / "local"), **tiny_rl_settings))
    remote = train_rl(RLConfig(out_dir=str(tmp_path / "ray"), **ON_RAY, **tiny_rl_settings))
    cluster.look()
    assert local.timesteps == remote.timesteps == 16
    wa, wb = weights(local.policy_dir), weights(remote.policy_dir)
    assert wa.keys() == wb.keys()
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)
    assert local.metrics == remote.metrics


def test_ray_flags_and_checks() -> None:
    from rlft.agents.rl import RLConfig
    from rlft.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["collect", WEB]).ray is None
    assert parser.parse_args(["collect", WEB, "--ray"]).ray == "local"
    args = parser.parse_args(
        ["eval", WEB, "--agent", "random", "--ray", "ray://head:10001", "--num-workers", "3"]
    )
    assert args.ray == "ray://head:10001" and args.num_workers == 3
    assert (
        parser.parse_args(
            ["train", "rl", WEB, "--out", "x", "--ray", "--envs-per-worker", "4"]
        ).envs_per_worker
        == 4
    )
    with pytest.raises(ConfigError, match="num_workers x envs_per_worker"):
        RLConfig(env_id=WEB, out_dir="x", anchor="none", n_envs=4, ray="local", num_workers=3).validate()
    with pytest.raises(ConfigError, match="worker_timeout"):
        RLConfig(env_id=WEB, out_dir="x", anchor="none", worker_timeout=0.0).validate()


def test_without_ray_a_dependency_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(DependencyError, match=r"rlft\[ray\]"):
        RayEnvPool([_web_factory()])
    with pytest.raises(DependencyError, match=r"rlft\[ray\]"):
        RayVectorEnv([_web_factory()])
    from rlft.envs.ray_vector import RayExecutor

    with pytest.raises(DependencyError, match=r"rlft\[ray\]"):
        RayExecutor()  # what rlft study --ray builds


def test_a_worker_that_keeps_dying_raises_instead_of_hanging(cluster: Any, tmp_path: Path) -> None:
    marker = str(tmp_path / "crash")

    def fragile() -> gym.Env:  # pickled by value into the worker
        if os.path.exists(marker):
            os._exit(1)  # a worker that dies as it starts
        return make_env(WEB, "train")

    pool = RayEnvPool([fragile], worker_options=WORKER, max_restarts=1, timeout_s=60)
    try:
        pool.reset([0], [0])
        Path(marker).touch()
        os.kill(pool.worker_pids()[0], signal.SIGKILL)
        with pytest.raises(EnvWorkerError, match="failed 2 times in a row"):
            pool.call([0], "expert_action")
        cluster.look()
    finally:
        pool.close()


# -- rlft study --ray: cells as Ray tasks ----------------------------------------------------------------


def test_executor_runs_calls_as_ray_tasks_in_order_of_the_limit(cluster: Any) -> None:
    from rlft.envs.ray_vector import RayExecutor

    def span(i: int, pause: float = 0.2) -> tuple[int, float, float]:  # pickled by value
        start = time.monotonic()
        time.sleep(pause)
        return i, start, time.monotonic()

    def fails() -> None:
        raise ConfigError("bad setting")

    executor = RayExecutor(num_cpus=0.25, max_in_flight=1, timeout_s=120)
    try:
        futures = [executor.submit(span, i, pause=0.2) for i in range(3)]
        failing = executor.submit(fails)
        spans = [f.result(timeout=120) for f in futures]
        assert [s[0] for s in spans] == [0, 1, 2]
        for (_, _, end), (_, start, _) in itertools.pairwise(spans):
            assert end <= start  # one task in flight at a time: the spans never overlap
        with pytest.raises(ConfigError, match="bad setting"):  # the task's own error, unwrapped
            failing.result(timeout=120)
        cluster.look()
    finally:
        executor.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        executor.submit(span, 0)
    assert ray.is_initialized()  # it joined the test's Ray, so it leaves it running


def test_executor_retries_a_task_whose_worker_died(cluster: Any, tmp_path: Path) -> None:
    from rlft.envs.ray_vector import RayExecutor, RayTaskError

    def die_once(marker: str) -> int:  # the first attempt kills its worker process
        if not os.path.exists(marker):
            Path(marker).touch()
            os._exit(1)
        return 7

    retrying = RayExecutor(num_cpus=0.25, max_retries=1, timeout_s=120)
    once = RayExecutor(num_cpus=0.25, max_retries=0, timeout_s=120)
    try:
        assert retrying.submit(die_once, str(tmp_path / "a")).result(timeout=120) == 7
        with pytest.raises(RayTaskError, match="lost 1 time"):
            once.submit(die_once, str(tmp_path / "b")).result(timeout=120)
        assert (tmp_path / "b").exists()
        cluster.look()
    finally:
        retrying.shutdown()
        once.shutdown()


def test_executor_bounds_every_wait(cluster: Any) -> None:
    from rlft.envs.ray_vector import RayExecutor, RayTaskTimeoutError

    with pytest.raises(ConfigError, match="largest node"):
        RayExecutor(num_gpus=1)  # no node has a GPU: refused instead of waiting forever
    with pytest.raises(ConfigError, match="--cell-cpus"):
        RayExecutor(num_cpus=8)
    # The limit covers the queued call too, Ray worker start-up included: 10 s leaves room for a loaded
    # 2-core machine (2 s failed there) and is still far below the stuck call's 600 s.
    executor = RayExecutor(num_cpus=0.25, max_in_flight=1, timeout_s=10)
    try:
        stuck = executor.submit(time.sleep, 600)
        queued = executor.submit(os.getpid)
        with pytest.raises(RayTaskTimeoutError, match="ran past 10 s"):
            stuck.result(timeout=60)
        assert queued.result(timeout=60) > 0  # the next call ran once the stuck one was cancelled
        cluster.look()
    finally:
        executor.shutdown()
    closing = RayExecutor(num_cpus=0.25, max_in_flight=1, timeout_s=600)
    running = closing.submit(time.sleep, 600)
    waiting = closing.submit(os.getpid)
    closing.shutdown(wait=True, cancel_futures=True)  # returns at once: nothing waits on the sleep
    assert waiting.cancelled()
    with pytest.raises(EnvWorkerError, match="cancelled"):
        running.result(timeout=5)


def _study_rows(folder: Path) -> list[dict[str, str]]:
    import csv

    with open(folder / "results.csv") as f:
        return [{k: v for k, v in row.items() if k not in ("wall_s", "eval_s")} for row in csv.DictReader(f)]


TINY_STUDY = f"""
methods = ["bc", "bc+rl", "rl"]
inits = ["pretrained"]
budget = "rl-stage"
[[envs]]
env_id = "{WEB}"
demos = [2]
backbone = "tiny-bert"
eval_episodes = 3
rl_env_kwargs = {{}}
bc = {{ steps = 4, batch_size = 4, eval_every = 2, checkpoint_every = 2 }}
rl = {{ env_steps = 32, n_envs = 2, n_steps = 8, batch_size = 8, n_epochs = 1, checkpoint_every = 16 }}
"""
"""Three cells (bc, bc+rl, rl) of tiny-bert on the login form; rl-stage budgets (no wall-clock rule)."""


OUTCOME_COLUMNS = frozenset(c for c in CSV_COLUMNS if c.startswith(("success", "mean_reward", "reward_ci")))
"""What a resumed RL stage may change: it resets its envs where the uninterrupted run was mid-episode."""


def _assert_resumed_rows_match(resumed: Path, local: Path) -> None:
    """A resumed study's rows equal the local ones; a cell whose RL stage resumed mid-way keeps its budget.

    BC resumes bit-exactly (its data order is seeded by the step), but PPO's envs restart from fresh resets
    at the checkpoint, so that cell's outcome is another sample of the same recipe and budget. A driver
    killed after an RL stage's last checkpoint but before the stage was recorded resumes at its budget:
    no step is taken again, so that cell's outcome is the local one exactly.
    """
    mid_rl = set()
    for stages_file in resumed.glob("cells/*/*/*/*/stages.json"):
        rl = json.loads(stages_file.read_text()).get("rl", {})
        if rl.get("resumed_from", 0) > 0:
            assert 0 < rl["resumed_from"] <= rl["env_steps"]
            if rl["resumed_from"] < rl["env_steps"]:
                mid_rl.add("/".join(stages_file.parent.parts[-4:]))
    rows, expected = _study_rows(resumed), _study_rows(local)
    assert [r["cell"] for r in rows] == [r["cell"] for r in expected]
    for row, want in zip(rows, expected, strict=True):
        skip = OUTCOME_COLUMNS if row["cell"] in mid_rl else frozenset()

        def kept(r: dict[str, str], skip: frozenset[str] = skip) -> dict[str, str]:
            return {k: v for k, v in r.items() if k not in skip}

        assert kept(row) == kept(want)


def _wait_for(condition: Any, what: str, limit: float = 300.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {limit:g} s for {what}")
        time.sleep(0.2)


@pytest.mark.integration  # each task's worker imports torch, transformers and SB3 (~90 s in all here)
def test_study_on_ray_gives_the_local_results_and_resumes(cluster: Any, tmp_path: Path, weights: Any) -> None:
    import subprocess

    from rlft.agents.study import load_study_file, run_study

    toml = tmp_path / "study.toml"
    toml.write_text(TINY_STUDY)
    on_ray = {"ray": "local", "cell_cpus": 0.5, "workers": 3, "cell_timeout": 600.0}

    def study(out: str, **extra: Any) -> Any:
        return load_study_file(toml, out_dir=str(tmp_path / out), device="cpu", progress=False, **extra)

    local = run_study(study("local"))
    remote = run_study(study("ray", **on_ray))
    cluster.look()
    assert not local.failed and not remote.failed, remote.failed
    assert len(_study_rows(tmp_path / "ray")) == 3
    assert _study_rows(tmp_path / "ray") == _study_rows(tmp_path / "local")
    for a, b in zip(local.cells, remote.cells, strict=True):
        assert a["key"] == b["key"] and a["evals"]["test"]["successes"] == b["evals"]["test"]["successes"]
        # the final policy of each cell (its last stage's) has the same weights
        wa, wb = (weights(list(c["stages"].values())[-1]["policy_dir"]) for c in (a, b))
        assert wa.keys() == wb.keys() and all(np.array_equal(wa[k], wb[k]) for k in wa)

    # The cell folders are the state: a cell cut short (its RL stage and evaluation lost) runs again on
    # Ray from what is left, and the rest is reused.
    cell = tmp_path / "ray" / "cells" / "WebFormLogin-v0" / "bc+rl" / "pretrained" / "d2_s0"
    (cell / "result.json").unlink()
    (cell / "eval" / "test.json").unlink()
    stages = json.loads((cell / "stages.json").read_text())
    (cell / "stages.json").write_text(json.dumps({"bc": stages["bc"]}))
    again = run_study(study("ray", **on_ray))
    assert not again.failed
    assert json.loads((cell / "stages.json").read_text())["bc"] == stages["bc"]  # BC was not rerun
    assert _study_rows(tmp_path / "ray") == _study_rows(tmp_path / "local")

    # A study whose driver is killed once its first stage is recorded (rlft study --ray joining the
    # cluster; here the other cells were still training): Ray ends its tasks, and the same study run
    # again finishes it with the local results.
    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "rlft.cli", "study", "--config", str(toml), "--out", str(killed)]
    command += ["--ray", ray.get_runtime_context().gcs_address, "--cell-cpus", "0.5", "--workers", "3"]
    driver = subprocess.Popen([*command, "--device", "cpu", "--no-progress"], stderr=subprocess.DEVNULL)
    try:
        _wait_for(
            lambda: any(killed.glob("cells/*/*/*/*/stages.json")) or driver.poll() is not None, "a stage"
        )
        cluster.look()
    finally:
        driver.kill()
        driver.wait(timeout=60)
    cpus = ray.cluster_resources()["CPU"]
    _wait_for(lambda: ray.available_resources().get("CPU", 0.0) == cpus, "the killed study's tasks to end")
    resumed = run_study(study("killed", **on_ray))
    cluster.look()
    assert not resumed.failed, resumed.failed
    _assert_resumed_rows_match(killed, tmp_path / "local")
