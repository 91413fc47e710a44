"""BC and PPO throughput of the two ``ee_delta`` heads: prints one JSON line per head.

On ``rlft/TabletopPutBlockInBowl-v0`` with ``action_mode="ee_delta"``, the top-down view and the cup's
state (``heightmap=True, proprioception=True``), the policy's backbone frozen (the tabletop default):

  bc_samples_per_s   demonstrations per second of BC steps (forward + backward + AdamW) at ``--batch``,
                     on expert observations recorded once before timing
  ppo_samples_per_s  environment steps per second of ``PPO.learn`` (rollouts in ``--n-envs``
                     environments, then ``--epochs`` epochs of minibatch updates): what ``rlft train rl``
                     runs, env simulation and rendering included
  act_ms_b1          median milliseconds of one greedy decision at batch 1

Usage:
  python benchmarks/ee_heads_throughput.py [--backbone minilm+efficientnet] [--heads ee_gaussian ee_binned]
      [--bc-steps 20] [--ppo-steps 256] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import time

import gymnasium as gym
import numpy as np
import rlft  # noqa: F401  (registers the ids)
import torch
from rlft.policies import PolicyConfig, build_policy

ENV_ID = "rlft/TabletopPutBlockInBowl-v0"
ENV_KWARGS = {"action_mode": "ee_delta", "heightmap": True, "proprioception": True, "max_episode_steps": -1}


def expert_transitions(n: int) -> list[tuple[dict, np.ndarray]]:
    """``n`` (observation, expert action) pairs from whole expert episodes."""
    env = gym.make(ENV_ID, **ENV_KWARGS)
    out: list[tuple[dict, np.ndarray]] = []
    seed = 0
    while len(out) < n:
        obs, _ = env.reset(seed=seed)
        done = False
        while not done and len(out) < n:
            action = env.unwrapped.expert_action()  # type: ignore[attr-defined]
            out.append((obs, action))
            obs, _, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
        seed += 1
    env.close()
    return out


def measure(head: str, args: argparse.Namespace, data: list[tuple[dict, np.ndarray]]) -> dict:
    """The figures of one head."""
    from rlft.agents.algorithms import make_ppo
    from rlft.policies.sb3 import make_sb3_env
    from stable_baselines3.common.vec_env import DummyVecEnv

    env = gym.make(ENV_ID, **ENV_KWARGS)
    config = PolicyConfig(backbone=args.backbone, head=head, finetune="frozen")
    policy = build_policy(config, env.observation_space, env.action_space, seed=0, progress=False)
    policy.fit_actions([a for _, a in data])
    params = policy.trainable_parameters()
    optimizer = torch.optim.AdamW(params, lr=1e-3)
    policy.train()
    rng = np.random.default_rng(0)

    def bc_step() -> None:
        idx = rng.integers(0, len(data), args.batch)
        log_prob, _, _ = policy.evaluate_actions([data[i][0] for i in idx], [data[i][1] for i in idx])
        loss = -log_prob.mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    bc_step()  # warm-up
    t = time.perf_counter()
    for _ in range(args.bc_steps):
        bc_step()
    bc_rate = args.bc_steps * args.batch / (time.perf_counter() - t)

    policy.eval()
    times = []
    for obs, _ in data[: args.decisions]:
        t = time.perf_counter()
        policy.act(obs)
        times.append(time.perf_counter() - t)

    vec = DummyVecEnv([lambda: make_sb3_env(gym.make(ENV_ID, **ENV_KWARGS), policy)] * args.n_envs)
    vec.seed(0)
    n_steps = max(args.ppo_steps // args.n_envs, 2)
    model = make_ppo(policy, vec, n_steps=n_steps, batch_size=args.ppo_batch, n_epochs=args.epochs, seed=0)
    t = time.perf_counter()
    model.learn(total_timesteps=n_steps * args.n_envs)
    ppo_rate = n_steps * args.n_envs / (time.perf_counter() - t)
    vec.close()
    env.close()
    return {
        "head": head,
        "backbone": args.backbone,
        "bc_samples_per_s": round(bc_rate, 2),
        "bc_batch": args.batch,
        "ppo_samples_per_s": round(ppo_rate, 2),
        "ppo_env_steps": n_steps * args.n_envs,
        "ppo_epochs": args.epochs,
        "act_ms_b1": round(1000 * float(np.median(times)), 2),
        "sb3_action_space": str(policy.sb3_action_space(1)),
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    """Parse flags, record the demonstrations once, print one JSON line per head."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backbone", default="minilm+efficientnet")
    parser.add_argument("--heads", nargs="+", default=["ee_gaussian", "ee_binned"])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--bc-steps", type=int, default=20)
    parser.add_argument("--decisions", type=int, default=20)
    parser.add_argument("--ppo-steps", type=int, default=256)
    parser.add_argument("--ppo-batch", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--n-envs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = expert_transitions(max(args.batch * 4, args.decisions, 64))
    for head in args.heads:
        print(json.dumps(measure(head, args, data)), flush=True)


if __name__ == "__main__":
    main()
