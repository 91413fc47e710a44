"""Tabletop throughput and expert success, one JSON line per task (figures are printed, never asserted).

Per task: reset time; ``pick_place`` steps/s with one 128 x 128 RGB-D observation render per step;
``ee_delta`` steps/s with a render every step (and its scripted expert's success over
``--ee-episodes``); the raw ``stepSimulation`` rate of the task's scene; and
the ``pick_place`` expert's success rate over ``--seeds`` seeds.

    .venv/bin/python benchmarks/tabletop_throughput.py --seeds 200
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from rlft.envs.contract import SPLITS
from rlft.envs.tabletop.env import TabletopEnv
from rlft.envs.tabletop.objects import SPLIT_ALIASES
from rlft.envs.tabletop.tasks import TASKS


def timed_episode(env: TabletopEnv, seed: int) -> tuple[float, int, float, bool]:
    """Run the expert for one episode; return (reset seconds, steps, seconds inside env.step, success)."""
    t = time.perf_counter()
    env.reset(seed=seed)
    reset_s = time.perf_counter() - t
    steps, seconds, done, info = 0, 0.0, False, {}
    while not done:
        action = env.expert_action()
        t = time.perf_counter()
        _, _, terminated, truncated, info = env.step(action)
        seconds += time.perf_counter() - t
        steps += 1
        done = terminated or truncated
    return reset_s, steps, seconds, bool(info["success"])


def pick_place_figures(task: str, seeds: int, split: str) -> dict[str, float]:
    env = TabletopEnv(task, split=split, image_size=(128, 128))
    runs = [timed_episode(env, seed) for seed in range(seeds)]
    steps = sum(r[1] for r in runs)
    sim = env.sim
    t = time.perf_counter()
    sim.step(2000)
    raw = 2000 / (time.perf_counter() - t)
    env.close()
    return {
        "expert_success": sum(r[3] for r in runs) / seeds,
        "episodes": seeds,
        "reset_s": sum(r[0] for r in runs) / seeds,
        "pick_place_steps_per_s": steps / sum(r[2] for r in runs),
        "pick_place_steps": steps,
        "raw_sim_steps_per_s": raw,
    }


def ee_delta_figures(task: str, episodes: int, split: str) -> dict[str, float]:
    env = TabletopEnv(task, split=split, action_mode="ee_delta", image_size=(128, 128))
    runs = [timed_episode(env, seed) for seed in range(episodes)]
    env.close()
    steps = sum(r[1] for r in runs)
    return {
        "ee_delta_steps_per_s": steps / sum(r[2] for r in runs),
        "ee_delta_expert_success": sum(r[3] for r in runs) / episodes,
        "ee_delta_episodes": episodes,
        "ee_delta_steps_per_episode": steps / episodes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200, help="pick_place expert episodes per task")
    parser.add_argument("--ee-episodes", type=int, default=3, help="ee_delta expert episodes per task")
    parser.add_argument(
        "--split",
        default="train",
        choices=[*SPLITS, *SPLIT_ALIASES],
        help="goal split: train / validation (seen colours and shapes) or test (held-out; alias unseen)",
    )
    parser.add_argument("--tasks", nargs="*", default=sorted(TASKS))
    args = parser.parse_args()
    summary = []
    for task in args.tasks:
        row = {"task": task, "split": args.split}
        row.update(pick_place_figures(task, args.seeds, args.split))
        row.update(ee_delta_figures(task, args.ee_episodes, args.split))
        summary.append(row)
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    print(
        json.dumps(
            {
                "task": "ALL",
                "min_expert_success": min(r["expert_success"] for r in summary),
                "min_ee_delta_expert_success": min(r["ee_delta_expert_success"] for r in summary),
                "median_pick_place_steps_per_s": float(
                    np.median([r["pick_place_steps_per_s"] for r in summary])
                ),
                "median_ee_delta_steps_per_s": float(np.median([r["ee_delta_steps_per_s"] for r in summary])),
                "max_reset_s": max(r["reset_s"] for r in summary),
            }
        )
    )


if __name__ == "__main__":
    main()
