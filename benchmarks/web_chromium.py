"""Throughput of the Chromium backend against the text backend, measured in the same run.

For N = 1, 2, 4 environments of one id in one process (a ``SyncVectorEnv``-like loop: the N environments
share one Chromium with one browser context each), expert rollouts on seeds 0, 1, ...: steps/s per
environment and in total, mean reset time, and memory per environment (proportional set size of this
process, the Playwright driver and the browser's processes, divided by N). Then the same with
``obs_mode="text+screenshot"``, and the text backend on the same seeds for the ratio. Prints one JSON
line per configuration.

    python benchmarks/web_chromium.py                          # rlft/WebShop-v0, 20 episodes
    python benchmarks/web_chromium.py --ids rlft/WebShop-v0 rlft/WebFormCheckout-v0 --episodes 40
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import rlft
from rlft.envs.web.backends import browser as browsers
from rlft.errors import DependencyError


def _pss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_bytes().rsplit(b")", 1)[-1].split()
            except OSError:
                continue
            children.setdefault(int(stat[1]), []).append(int(entry))
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack += children.get(pid, [])
    return found


def cpu_s() -> float:
    """CPU seconds (user + system) used so far by this process and everything it started."""
    total = 0
    for pid in _descendants(os.getpid()):
        try:
            fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[-1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def memory_mb() -> float:
    """PSS of this process and everything it started (Playwright driver, Chromium and its helpers)."""
    return sum(_pss_mb(pid) for pid in _descendants(os.getpid()))


def run(env_id: str, count: int, episodes: int, **kwargs: Any) -> dict[str, Any]:
    """Expert rollouts of ``episodes`` episodes spread over ``count`` environments stepped in turn."""
    envs = [gym.make(env_id, **kwargs) for _ in range(count)]
    webs = [env.unwrapped for env in envs]
    steps = resets = 0
    step_s = reset_s = 0.0
    done = [True] * count
    next_seed = 0
    finished = 0
    # Warm-up: the first reset launches the browser and each environment's first reset opens its browser
    # context with a full navigation; both are timed separately.
    start = time.perf_counter()
    envs[0].reset(seed=10_000)
    first_reset_s = time.perf_counter() - start
    for i, env in enumerate(envs[1:], start=1):
        env.reset(seed=10_000 + i)
    cpu_start = cpu_s()
    while finished < episodes:
        for i, env in enumerate(envs):
            if done[i]:
                start = time.perf_counter()
                env.reset(seed=next_seed)
                reset_s += time.perf_counter() - start
                resets += 1
                next_seed += 1
                done[i] = False
                continue
            action = webs[i].expert_action()
            start = time.perf_counter()
            _, _, terminated, truncated, _ = env.step(action)
            step_s += time.perf_counter() - start
            steps += 1
            if terminated or truncated:
                done[i] = True
                finished += 1
    cpu = cpu_s() - cpu_start
    memory = memory_mb()
    pids = {getattr(web.backend, "browser_pid", None) for web in webs}
    for env in envs:
        env.close()
    wall = step_s + reset_s
    return {
        "id": env_id,
        "backend": kwargs.get("backend", "text"),
        "obs_mode": kwargs.get("obs_mode", "text"),
        "envs": count,
        "episodes": finished,
        "steps": steps,
        # Stepping N environments in turn: each environment advances at total / N.
        "steps_per_s_total": round(steps / step_s, 1),
        "steps_per_s_per_env": round(steps / step_s / count, 1),
        "ms_per_step": round(step_s * 1000 / steps, 2),
        "ms_per_reset": round(reset_s * 1000 / max(1, resets), 2),
        # CPU of every process involved (Python, Playwright's driver, Chromium's), resets included: what
        # a step costs on an idle machine, whatever the load of a shared one.
        "cpu_ms_per_step": round(cpu * 1000 / steps, 1),
        "episodes_per_s": round(finished / wall, 2),
        "first_reset_s": round(first_reset_s, 3),
        "browsers": len(pids - {None}),
        "memory_mb": round(memory, 1),
        "memory_mb_per_env": round(memory / count, 1),
    }


def report(
    ids: list[str],
    episodes: int = 20,
    counts: tuple[int, ...] = (1, 2, 4),
    page_loads: str = "fetch",
    viewport: tuple[int, int] = (800, 600),
) -> None:
    """Print the JSON lines described in the module docstring (``web_throughput.py`` calls this too)."""
    try:
        chromium = browsers.find_chromium()
    except DependencyError as error:
        print(json.dumps({"error": str(error)}), flush=True)
        sys.exit(1)
    header = {
        "rlft": rlft.__version__,
        "python": sys.version.split()[0],
        "chromium": chromium,
        "cpus": os.cpu_count(),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "page_loads": page_loads,
    }
    print(json.dumps(header), flush=True)
    options = {"viewport": tuple(viewport), "page_loads": page_loads}
    for env_id in ids:
        text = run(env_id, 1, episodes)
        print(json.dumps(text), flush=True)
        for obs_mode in ("text", "text+screenshot"):
            for count in counts:
                result = run(
                    env_id, count, episodes, backend="chromium", obs_mode=obs_mode, backend_options=options
                )
                ratio = text["steps_per_s_per_env"] / result["steps_per_s_per_env"]
                result["text_to_chromium_ratio"] = round(ratio, 1)
                print(json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", nargs="*", default=["rlft/WebShop-v0"])
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--counts", type=int, nargs="*", default=[1, 2, 4])
    parser.add_argument("--page-loads", default="fetch", choices=["fetch", "navigate"])
    parser.add_argument("--viewport", type=int, nargs=2, default=[800, 600], metavar=("WIDTH", "HEIGHT"))
    args = parser.parse_args()
    report(args.ids, args.episodes, tuple(args.counts), args.page_loads, tuple(args.viewport))


if __name__ == "__main__":
    main()
