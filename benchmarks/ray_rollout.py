"""Rollout throughput of envs on Ray actors against the local SB3 vector envs, one JSON line per setting.

The envs are the ones ``rlft train rl`` steps: each rlft env in a tiny policy's SB3 view (its observation
encoder, ``Monitor``), ``--envs`` of them, stepped with seeded random valid actions. Settings, side by
side in one run: ``DummyVecEnv`` (one process), ``SubprocVecEnv`` (one process per env) and
:class:`rlft.agents.ray_vec_env.RayVecEnv` with 1, 2 and 4 actors sharing the envs, on a local Ray
started with ``--ray-cpus`` CPUs. Each line holds steps/s (env steps over all envs, after ``--warmup``
steps), seconds to start the vector env, and the machine's load average when the setting ran. The
settings run round-robin ``--repeats`` times (so a load spike hits all of them alike); a ``summary``
line per setting gives the median and range. Figures are printed, never asserted.

    .venv/bin/python benchmarks/ray_rollout.py --envs 4 --steps 100 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import numpy as np

ENVS = {"web": "rlft/WebShop-v0", "tabletop": "rlft/TabletopPutBlockInBowl-v0"}
BACKBONES = {"web": "tiny-bert", "tabletop": "tiny-clip"}


def _policy(env_id: str, backbone: str) -> Any:
    from rlft.demos.envs import make_env
    from rlft.policies import PolicyConfig, build_policy

    env = make_env(env_id, "train")
    try:
        return build_policy(
            PolicyConfig(backbone=backbone, seed=0), env.observation_space, env.action_space, progress=False
        )
    finally:
        env.close()


def _make(kind: str, factory: Any, n: int, actors: int) -> Any:
    if kind == "dummy":
        from stable_baselines3.common.vec_env import DummyVecEnv

        return DummyVecEnv([factory] * n)
    if kind == "subproc":
        from stable_baselines3.common.vec_env import SubprocVecEnv

        return SubprocVecEnv([factory] * n, start_method="forkserver")
    from rlft.agents.ray_vec_env import RayVecEnv

    return RayVecEnv([factory] * n, envs_per_worker=-(-n // actors), worker_options={"num_cpus": 0.5})


def measure(kind: str, factory: Any, n: int, actors: int, steps: int, warmup: int) -> dict[str, Any]:
    """Steps/s of one vector env setting."""
    t = time.perf_counter()
    venv = _make(kind, factory, n, actors)
    venv.seed(0)
    venv.reset()
    start_s = time.perf_counter() - t
    rng = np.random.default_rng(0)
    space = venv.action_space
    try:

        def act() -> np.ndarray:
            masks = np.stack(venv.env_method("action_masks"))
            if hasattr(space, "n"):  # Discrete: a random admissible candidate
                return np.array([rng.choice(np.flatnonzero(row)) for row in masks])
            return np.stack([rng.integers(0, space.nvec) for _ in range(n)])

        for _ in range(warmup):
            venv.step(act())
        t = time.perf_counter()
        for _ in range(steps):
            venv.step(act())
        seconds = time.perf_counter() - t
    finally:
        venv.close()
    return {
        "vec_env": kind if kind != "ray" else f"ray x{actors}",
        "envs": n,
        "actors": actors if kind == "ray" else None,
        "steps_per_s": steps * n / seconds,
        "start_s": start_s,
        "load_avg_1m": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=list(ENVS), choices=list(ENVS))
    parser.add_argument("--envs", type=int, default=4, help="envs per vector env")
    parser.add_argument("--steps", type=int, default=100, help="timed vector steps per setting")
    parser.add_argument("--warmup", type=int, default=5, help="untimed vector steps first")
    parser.add_argument("--actors", type=int, nargs="+", default=[1, 2, 4], help="Ray actor counts")
    parser.add_argument("--ray-cpus", type=int, default=2, help="CPUs of the local Ray")
    parser.add_argument("--repeats", type=int, default=3, help="round-robin passes over the settings")
    args = parser.parse_args()

    import ray
    import torch
    from rlft.agents.ray_envs import sb3_env_factory

    torch.set_num_threads(1)
    ray.init(num_cpus=args.ray_cpus, include_dashboard=False, logging_level="WARNING")
    try:
        for family in args.families:
            env_id = ENVS[family]
            policy = _policy(env_id, BACKBONES[family])
            record = {"env_id": env_id, "split": "train", "env_kwargs": {}, "max_steps": 20}
            factory = sb3_env_factory(record, policy, remote=True)
            settings = [("dummy", 1), ("subproc", 1)] + [("ray", a) for a in args.actors]
            rates: dict[str, list[float]] = {}
            for repeat in range(args.repeats):
                for kind, actors in settings:
                    row = measure(kind, factory, args.envs, actors, args.steps, args.warmup)
                    rates.setdefault(row["vec_env"], []).append(row["steps_per_s"])
                    print(
                        json.dumps({"family": family, "env_id": env_id, "repeat": repeat, **row}), flush=True
                    )
            for name, values in rates.items():
                summary = {
                    "summary": True,
                    "family": family,
                    "vec_env": name,
                    "envs": args.envs,
                    "median_steps_per_s": float(np.median(values)),
                    "min_steps_per_s": min(values),
                    "max_steps_per_s": max(values),
                    "repeats": len(values),
                }
                print(json.dumps(summary), flush=True)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
