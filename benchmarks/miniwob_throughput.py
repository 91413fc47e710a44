"""Steps per second on MiniWoB++ tasks: rlft's live backend without and with screenshots, and MiniWoB++'s own
Selenium env on the same tasks in the same run when it can start here. One JSON line per (env, task,
observation), then a summary line per configuration.

Each run takes seeded random admissible commands (never ``stop``), resetting when an episode ends, for
``--steps`` steps per task. ``steps_per_s`` counts the time spent in ``step`` only (the figure MiniWoB++'s
and BrowserGym's reports use); ``steps_per_s_with_resets`` includes the resets; ``reset_ms`` is the mean
reset. ``load1`` is the machine's 1-minute load average at the start (the machine may be shared).

MiniWoB++'s own env (``miniwob`` package, Selenium) needs a chromedriver matching the browser; when it
cannot start (none installed and nothing can be downloaded), its line says why and the comparison falls
back on the figures recorded for this machine kind (22-33 steps/s without screenshots, 11-17 with).

Usage:
  python benchmarks/miniwob_throughput.py [--steps 200] [--tasks click-button enter-text ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import gymnasium as gym
import numpy as np
import rlft  # noqa: F401 (registers the ids)

TASKS = ("click-button", "enter-text", "click-checkboxes", "email-inbox-delete", "choose-list", "login-user")


def run_rlft(task: str, steps: int, obs_mode: str) -> dict[str, Any]:
    env = gym.make(f"rlft/MiniWoB-{task}-v0", obs_mode=obs_mode)
    rng = np.random.default_rng(0)
    step_s, reset_s, episodes = 0.0, [], 0
    try:
        start = time.perf_counter()
        obs, _ = env.reset(seed=0)
        reset_s.append(time.perf_counter() - start)
        for _ in range(steps):
            commands = [c for c in obs["admissible_commands"] if c != "stop"] or ["stop"]
            action = commands[int(rng.integers(len(commands)))]
            start = time.perf_counter()
            obs, _, terminated, truncated, _ = env.step(action)
            step_s += time.perf_counter() - start
            if terminated or truncated:
                episodes += 1
                start = time.perf_counter()
                obs, _ = env.reset(seed=episodes)
                reset_s.append(time.perf_counter() - start)
    finally:
        env.close()
    warm = reset_s[1:] or reset_s  # the first reset also starts the browser
    return {
        "env": "rlft-live",
        "task": task,
        "obs_mode": obs_mode,
        "steps": steps,
        "episodes": episodes,
        "steps_per_s": round(steps / step_s, 2),
        "steps_per_s_with_resets": round(steps / (step_s + sum(warm)), 2),
        "reset_ms": round(1000 * statistics.mean(warm), 1),
        "first_reset_s": round(reset_s[0], 2),
    }


_SELENIUM = r"""
import json, sys, time
import gymnasium as gym
import miniwob  # registers miniwob/* ids
task, steps, screenshots = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
from miniwob.action import ActionTypes
env = gym.make(f"miniwob/{task}-v1")
try:
    obs, info = env.reset(seed=0)
    step_s = 0.0
    for i in range(steps):
        elements = [e for e in obs["dom_elements"] if e["tag"] not in ("body", "div")] or obs["dom_elements"]
        element = elements[i % len(elements)]
        action = env.unwrapped.create_action(ActionTypes.CLICK_ELEMENT, ref=element["ref"])
        start = time.perf_counter()
        obs, reward, terminated, truncated, info = env.step(action)
        step_s += time.perf_counter() - start
        if terminated or truncated:
            obs, info = env.reset(seed=i + 1)
    print(json.dumps({"steps_per_s": round(steps / step_s, 2)}))
finally:
    env.close()
"""


def run_selenium(task: str, steps: int, screenshots: bool) -> dict[str, Any]:
    line: dict[str, Any] = {
        "env": "miniwob-selenium",
        "task": task,
        "obs_mode": "text+screenshot" if screenshots else "text",
    }
    environ = {**os.environ, "SE_OFFLINE": "true"}
    try:
        done = subprocess.run(
            [sys.executable, "-c", _SELENIUM, task, str(steps), "1" if screenshots else "0"],
            capture_output=True,
            text=True,
            timeout=300,
            env=environ,
        )
    except subprocess.TimeoutExpired:
        return line | {"available": False, "reason": "did not start within 300 s"}
    if done.returncode != 0:
        last = [row for row in done.stderr.strip().splitlines() if row.strip()][-1:] or ["no output"]
        return line | {"available": False, "reason": last[0][:300]}
    return line | {"available": True} | json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="steps per task and configuration")
    parser.add_argument("--tasks", nargs="*", default=list(TASKS))
    parser.add_argument("--no-selenium", action="store_true", help="skip MiniWoB++'s own env")
    args = parser.parse_args()
    print(json.dumps({"load1": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(), "steps": args.steps}))
    results: list[dict[str, Any]] = []
    for obs_mode in ("text", "text+screenshot"):
        for task in args.tasks:
            result = run_rlft(task, args.steps, obs_mode)
            results.append(result)
            print(json.dumps(result), flush=True)
    if not args.no_selenium:
        for screenshots in (False, True):
            for task in args.tasks:
                result = run_selenium(task, args.steps, screenshots)
                results.append(result)
                print(json.dumps(result), flush=True)
                if not result.get("available"):
                    break  # the same reason holds for every task
    for env_name in ("rlft-live", "miniwob-selenium"):
        for obs_mode in ("text", "text+screenshot"):
            rows = [
                r
                for r in results
                if r["env"] == env_name and r["obs_mode"] == obs_mode and "steps_per_s" in r
            ]
            if rows:
                rates = [r["steps_per_s"] for r in rows]
                print(json.dumps({
                    "summary": env_name, "obs_mode": obs_mode, "tasks": len(rows),
                    "median_steps_per_s": statistics.median(rates), "min": min(rates), "max": max(rates),
                }))  # fmt: skip


if __name__ == "__main__":
    main()
