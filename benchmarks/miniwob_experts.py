"""Success rate of the scripted MiniWoB++ experts: one JSON line per task, then a summary line.

Each task runs ``--episodes`` episodes (seeds 0, 1, ...) with the expert's commands on the live
backend; a line reports ``success_rate`` (``info["success"]``: MiniWoB's raw reward is 1) with its 95%
Wilson interval, ``mean_reward`` (raw reward mapped to [0, 1]), ``mean_steps``, ``expert_errors``
(commands the env refused or the expert could not produce) and ``seconds``.

Usage:
  python benchmarks/miniwob_experts.py [--episodes 20] [--tasks click-button enter-text ...]
"""

from __future__ import annotations

import argparse
import json
import math
import time

import gymnasium as gym
import rlft  # noqa: F401 (registers the ids)
from rlft.envs.web.tasks.miniwob_experts import EXPERTS
from rlft.errors import RlftError


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def run_task(task: str, episodes: int) -> dict:
    env = gym.make(f"rlft/MiniWoB-{task}-v0")
    successes, rewards, steps, errors, failures = 0, 0.0, 0, 0, []
    start = time.perf_counter()
    try:
        for seed in range(episodes):
            env.reset(seed=seed)
            info: dict = {}
            for _ in range(env.spec.max_episode_steps or 30):
                try:
                    action = env.unwrapped.expert_action()
                except RlftError as error:
                    errors += 1
                    failures.append(f"seed {seed}: {error}"[:160])
                    break
                obs, reward, terminated, truncated, info = env.step(action)
                steps += 1
                rewards += float(reward)
                if obs["last_action_error"]:
                    errors += 1
                    failures.append(f"seed {seed}: {action}: {obs['last_action_error']}"[:160])
                if terminated or truncated:
                    break
            if info.get("success"):
                successes += 1
            elif not failures or not failures[-1].startswith(f"seed {seed}:"):
                failures.append(f"seed {seed}: {info.get('evaluation', {}).get('reason')}"[:160])
    finally:
        env.close()
    low, high = wilson(successes, episodes)
    return {
        "task": task,
        "episodes": episodes,
        "success_rate": successes / episodes,
        "ci95": [round(low, 3), round(high, 3)],
        "mean_reward": rewards / episodes,
        "mean_steps": steps / episodes,
        "expert_errors": errors,
        "seconds": round(time.perf_counter() - start, 2),
        "failures": failures[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--tasks", nargs="*", default=sorted(EXPERTS))
    args = parser.parse_args()
    results = []
    for task in args.tasks:
        result = run_task(task, args.episodes)
        results.append(result)
        print(json.dumps(result), flush=True)
    total = sum(r["success_rate"] * r["episodes"] for r in results)
    episodes = sum(r["episodes"] for r in results)
    perfect = sum(r["success_rate"] == 1.0 for r in results)
    print(
        json.dumps(
            {
                "summary": True,
                "tasks": len(results),
                "episodes": episodes,
                "success_rate": total / max(1, episodes),
                "tasks_at_100pct": perfect,
            }
        )
    )


if __name__ == "__main__":
    main()
