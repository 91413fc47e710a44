"""Throughput and expert quality of every registered web environment, plus the rendering floor.

For each ``rlft/Web*`` id: expert rollouts on ``--split`` seeds 0..N-1 in one process, reporting steps/s,
mean ms per step (``reset`` included in the time, not in the step count), expert mean reward and success
rate, and the process's peak memory. The floor is :func:`rlft.envs.web.render.render_page` alone on the
pages those rollouts visited (the cost every step pays at least); ``floor_ratio`` is how many times
slower a full step is. Prints one JSON line per id.

    python benchmarks/web_throughput.py                  # every web id, 500 test-split episodes each
    python benchmarks/web_throughput.py --ids rlft/WebShop-v0 --episodes 100
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

import gymnasium as gym
import rlft
from rlft.envs.registration import ENTRIES
from rlft.envs.web.render import render_page

WEB_ENTRY = "rlft.envs.web.env:WebEnv"


def web_ids() -> list[str]:
    return [entry.id for entry in ENTRIES if entry.entry_point == WEB_ENTRY]


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench(env_id: str, episodes: int, split: str, floor_pages: int) -> dict:
    build_start = time.perf_counter()
    env = gym.make(env_id, split=split)
    build_s = time.perf_counter() - build_start
    web = env.unwrapped
    steps = 0
    rewards, successes = [], []
    pages: list[tuple[str, str, int]] = []
    start = time.perf_counter()
    cpu_start = time.process_time()
    for seed in range(episodes):
        env.reset(seed=seed)
        total, info = 0.0, {"success": False}
        while True:
            _, reward, terminated, truncated, info = env.step(web.expert_action())
            steps += 1
            total += float(reward)
            if len(pages) < floor_pages and seed % 10 == 0:
                snap = web.backend.get_state()["history"][-1]
                pages.append((snap["html"], snap["url"], snap["status"]))
            if terminated or truncated:
                break
        rewards.append(total)
        successes.append(bool(info["success"]))
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    env.close()

    render_start = time.perf_counter()
    render_cpu_start = time.process_time()
    repeats = 5
    for _ in range(repeats):
        for html, url, status in pages:
            render_page(html, url, None, status)
    renders = max(1, repeats * len(pages))
    render_ms = (time.perf_counter() - render_start) * 1000 / renders
    render_cpu_ms = (time.process_time() - render_cpu_start) * 1000 / renders
    step_ms = elapsed * 1000 / max(1, steps)
    return {
        "id": env_id,
        "split": split,
        "episodes": episodes,
        "steps": steps,
        "steps_per_s": round(steps / elapsed, 1),
        "ms_per_step": round(step_ms, 3),
        # CPU time is steadier than wall time on a shared machine.
        "cpu_steps_per_s": round(steps / cpu, 1),
        "render_floor_ms": round(render_ms, 3),
        "floor_ratio": round(step_ms / render_ms, 2) if render_ms else None,
        "cpu_floor_ratio": round(cpu * 1000 / steps / render_cpu_ms, 2) if render_cpu_ms else None,
        "mean_page_kb": round(sum(len(p[0]) for p in pages) / max(1, len(pages)) / 1024, 1),
        "expert_mean_reward": round(sum(rewards) / len(rewards), 4),
        "expert_success": round(sum(successes) / len(successes), 4),
        "build_s": round(build_s, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", nargs="*", default=None, help="env ids (default: every web id)")
    parser.add_argument("--episodes", type=int, default=500)
    parser.add_argument("--split", default="test")
    parser.add_argument("--floor-pages", type=int, default=200, help="pages kept to time the rendering floor")
    parser.add_argument(
        "--backend",
        default="text",
        choices=["text", "chromium"],
        help="chromium: benchmarks/web_chromium.py (N = 1, 2, 4 envs, screenshots, text/chromium ratio)",
    )
    args = parser.parse_args()
    if args.backend == "chromium":
        from web_chromium import report  # the sibling script (benchmarks/ is on sys.path when run)

        report(args.ids or ["rlft/WebShop-v0"], args.episodes)
        return
    print(json.dumps({"rlft": rlft.__version__, "python": sys.version.split()[0]}), flush=True)
    for env_id in args.ids or web_ids():
        try:
            print(json.dumps(bench(env_id, args.episodes, args.split, args.floor_pages)), flush=True)
        except Exception as error:
            print(json.dumps({"id": env_id, "error": f"{type(error).__name__}: {error}"}), flush=True)


if __name__ == "__main__":
    main()
