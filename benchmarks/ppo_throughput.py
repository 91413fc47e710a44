"""PPO throughput on a web env with the demo's policy settings: prints JSON lines.

Figures, measured side by side in one run (same machine, same moment):
  env_steps_per_s          the SB3-wrapped envs alone (observation encoding included), random valid actions
  rollout_steps_per_s      PPO rollout collection (policy forward per step + env steps)
  ppo_steps_per_s          whole PPO (rollouts + ``n_epochs`` of updates), what ``rlft train rl`` runs
  page_forward_ms          one backbone forward over one observation's token budget at batch ``n_envs``
                           (per observation): the physical floor of a policy that reads each new page
  floor_steps_per_s        1000 / page_forward_ms: no PPO can roll out faster while every step shows a page
                           it has not encoded before
  cache_hit_rate           share of backbone rows served by the frozen encoding cache during the run

Usage:
  python benchmarks/ppo_throughput.py [--env rlft/WebShop-v0] [--backbone minilm]
      [--scorer cross_attention] [--finetune frozen] [--n-envs 8] [--env-steps 1024] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import torch
from rlft.agents.algorithms import make_ppo
from rlft.demos.envs import make_env
from rlft.policies import PolicyConfig, build_policy
from rlft.policies.sb3 import make_sb3_env
from stable_baselines3.common.callbacks import BaseCallback


def _vec_env(env_id: str, policy: Any, n_envs: int, max_steps: int) -> Any:
    from stable_baselines3.common.vec_env import DummyVecEnv

    vec = DummyVecEnv(
        [lambda: make_sb3_env(make_env(env_id, "train", {}, max_steps=max_steps), policy)] * n_envs
    )
    vec.seed(0)
    return vec


def _env_only(vec: Any, steps: int, seed: int) -> float:
    """Steps per second of the wrapped envs with uniformly random valid actions."""
    rng = np.random.default_rng(seed)
    vec.reset()
    start = time.perf_counter()
    for _ in range(max(steps // vec.num_envs, 1)):
        masks = np.stack(vec.env_method("action_masks"))
        vec.step(np.array([rng.choice(np.flatnonzero(m)) for m in masks]))
    return max(steps // vec.num_envs, 1) * vec.num_envs / (time.perf_counter() - start)


class _Timer(BaseCallback):
    """SB3 callback that splits wall time into rollout collection and updates."""

    def __init__(self) -> None:
        super().__init__()
        self.rollout_s = 0.0
        self.rollout_steps = 0
        self._start = 0.0

    def _on_rollout_start(self) -> None:
        self._start = time.perf_counter()

    def _on_rollout_end(self) -> None:
        self.rollout_s += time.perf_counter() - self._start
        self.rollout_steps += self.model.n_steps * self.model.n_envs

    def _on_step(self) -> bool:
        return True


@torch.no_grad()
def _page_forward_ms(policy: Any, vec: Any, batch: int) -> float:
    """Milliseconds per observation of one backbone forward over ``batch`` observations' token rows."""
    obs = vec.reset()
    ids = torch.as_tensor(obs["obs_ids"][:batch])
    mask = torch.as_tensor(obs["obs_mask"][:batch])
    encode = type(policy.backbone).encode_tokens if policy.reads_tokens else type(policy.backbone).encode_text
    encode(policy.backbone, ids, mask)  # warm-up
    times = []
    for _ in range(5):
        start = time.perf_counter()
        encode(policy.backbone, ids, mask)
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times)) / len(ids)


def main() -> None:
    """Run the measurements and print one JSON line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env", default="rlft/WebShop-v0")
    parser.add_argument("--backbone", default="minilm")
    parser.add_argument("--scorer", default="cross_attention")
    parser.add_argument("--finetune", default="frozen")
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--n-steps", type=int, default=64)
    parser.add_argument("--env-steps", type=int, default=1024)
    parser.add_argument("--max-steps", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    probe = make_env(args.env, "train", {})
    config = PolicyConfig(backbone=args.backbone, scorer=args.scorer, finetune=args.finetune)
    policy = build_policy(config, probe.observation_space, probe.action_space, seed=0, progress=False)
    probe.close()
    cache = policy.cache_frozen_encodings()
    vec = _vec_env(args.env, policy, args.n_envs, args.max_steps)
    env_sps = _env_only(vec, args.env_steps, seed=0)
    page_ms = _page_forward_ms(policy, vec, args.n_envs)
    if cache is not None:
        cache.entries.clear()
        cache.hits = cache.misses = 0
    model = make_ppo(
        policy,
        vec,
        seed=0,
        n_steps=args.n_steps,
        batch_size=128,
        n_epochs=8,
        learning_rate=1e-4,
        gamma=0.95,
        verbose=0,
    )
    timer = _Timer()
    start = time.perf_counter()
    model.learn(total_timesteps=args.env_steps, callback=timer)
    total = time.perf_counter() - start
    record = {
        "benchmark": "ppo_throughput",
        "env_id": args.env,
        "backbone": args.backbone,
        "scorer": args.scorer,
        "finetune": policy.config.finetune,
        "n_envs": args.n_envs,
        "threads": args.threads,
        "env_steps": int(model.num_timesteps),
        "env_steps_per_s": round(env_sps, 1),
        "rollout_steps_per_s": round(timer.rollout_steps / max(timer.rollout_s, 1e-9), 1),
        "ppo_steps_per_s": round(model.num_timesteps / total, 1),
        "page_forward_ms": round(page_ms, 2),
        "floor_steps_per_s": round(1000.0 / page_ms, 1),
        "cache_hit_rate": (
            round(cache.hits / max(cache.hits + cache.misses, 1), 3) if cache is not None else None
        ),
    }
    vec.close()
    print(json.dumps(record))


if __name__ == "__main__":
    main()
