"""Policy throughput for every embedded backbone (and the tiny ones): prints one JSON line each.

Figures per backbone (on real env observations: WebShop for text backbones, the tabletop env for
vision ones):
  decision_ms_b1       median milliseconds per decision at batch 1 over distinct observations
                       (tokenize + page and candidate encodings + head + argmax; no encoding cache)
  page_forward_ms_b1   web: median milliseconds of one backbone forward over the page text alone
                       (max_obs_tokens tokens), on the same observations in the same run
  decision_over_page   decision_ms_b1 / page_forward_ms_b1 (the target is <= 1.5)
  decision_ms_b1_cached  the same decisions with the policy's text-encoding cache warmed on 64
                       observations of other episodes (what evaluation and PPO rollouts run; ``null``
                       for heads that are not cached)
  decisions_per_s_b32  decisions per second at batch 32
  train_samples_per_s  samples per second of a BC step (forward + backward + Adam) at batch 8

Web observations gain ``admissible_descriptions`` and ``history`` where the env provides them; the
JSON says which (``descriptions``, ``history``), and ``mean_candidates`` how many commands a step has.

Usage:
  python benchmarks/policy_throughput.py --threads 1 [--backbones minilm smollm2-135m ...] [--repeats 3]
      [--finetune frozen|lora|full] [--scorer biencoder|late_interaction|cross_attention]
      [--device auto|cpu|cuda[:N]] [--precision fp32|bf16|fp16]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import gymnasium as gym
import numpy as np
import rlft
import torch
from rlft.errors import ConfigError
from rlft.policies import PRECISIONS, SCORERS, PolicyConfig, autocast, build_policy

EMBEDDED = ["minilm", "smollm2-135m", "efficientnet-lite0", "minilm+efficientnet"]
WEB_BACKBONES = {"minilm", "smollm2-135m", "tiny-bert", "tiny-gpt2"}


def _env(backbone: str) -> gym.Env:
    if backbone in WEB_BACKBONES:
        return gym.make("rlft/WebShop-v0")
    ids = [i for i in rlft.ENV_IDS if "Bowl" in i]
    if ids:
        return gym.make(ids[0])
    from rlft.envs.tabletop.env import TabletopEnv

    return TabletopEnv()


def _observations(env: gym.Env, n: int, seed: int = 0) -> tuple[list[dict], list]:
    """n observations from expert rollouts (with the expert's actions, for the training figure)."""
    obs_list, actions = [], []
    obs, _ = env.reset(seed=seed)
    while len(obs_list) < n:
        action = env.unwrapped.expert_action()
        obs_list.append(obs)
        actions.append(action)
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            seed += 1
            obs, _ = env.reset(seed=seed)
    return obs_list, actions


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _median_each(observations: list[dict], fn) -> float:
    """Median seconds of ``fn(obs)`` over distinct observations (after one warm-up call each)."""
    times = []
    for o in observations:
        start = time.perf_counter()
        fn(o)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


@torch.no_grad()
def _page_forward(policy: torch.nn.Module, obs: dict) -> None:
    """One backbone forward over the page text alone, tokenized to the policy's observation budget."""
    enc = policy.backbone.tokenize([str(obs.get("page", ""))], policy.encoder.obs_len)
    batch = policy.to_tensors({"page_ids": enc["input_ids"], "page_mask": enc["attention_mask"]})
    policy.backbone.encode_text(batch["page_ids"], batch["page_mask"])
    _sync(policy.device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(
    backbone: str,
    finetune: str,
    repeats: int,
    max_obs_tokens: int,
    device: str = "cpu",
    precision: str = "fp32",
    scorer: str = "biencoder",
) -> dict:
    env = _env(backbone)
    config = PolicyConfig(backbone=backbone, finetune=finetune, max_obs_tokens=max_obs_tokens, scorer=scorer)
    spaces = (env.observation_space, env.action_space)
    start = time.perf_counter()
    try:
        policy = build_policy(config, *spaces, device=device, progress=False)
    except ConfigError:  # no LoRA targets (efficientnet-lite0): measure it frozen
        finetune = "frozen"
        policy = build_policy(replace(config, finetune=finetune), *spaces, device=device, progress=False)
    build_s = time.perf_counter() - start
    with autocast(policy.device, precision):
        return _timings(policy, env, backbone, finetune, repeats, build_s, precision)


def _timings(
    policy: torch.nn.Module,
    env: gym.Env,
    backbone: str,
    finetune: str,
    repeats: int,
    build_s: float,
    precision: str,
) -> dict:
    obs, actions = _observations(env, 32)
    policy.act(obs[0])  # warm-up
    web = backbone in WEB_BACKBONES
    decision = _median_each(obs, lambda o: (policy.act(o), _sync(policy.device)))
    page = _median_each(obs, lambda o: _page_forward(policy, o)) if web else None
    cached = None
    cache = policy.cache_frozen_encodings()
    if cache is not None:
        # As in an evaluation: encodings cached from other episodes (commands, repeated pages) only.
        policy.act_batch(_observations(env, 64, seed=1000)[0])
        cached = _median_each(obs, lambda o: (policy.act(o), _sync(policy.device)))
        # Uncache (the batch and training figures below run uncached): the cache shadows encode_text, or
        # encode_tokens for the token scorers.
        delattr(policy.backbone, "encode_tokens" if cache.per_token else "encode_text")
    b32 = _best(lambda: (policy.act_batch(obs), _sync(policy.device)), repeats)
    policy.train()
    optimizer = torch.optim.Adam(policy.trainable_parameters(), lr=1e-4)
    batch = slice(0, 8)
    valid = [
        i
        for i, (o, a) in enumerate(zip(obs, actions, strict=True))
        if not isinstance(a, str) or a in o.get("admissible_commands", ())
    ][batch]

    def train_step() -> None:
        log_prob = policy.evaluate_actions([obs[i] for i in valid], [actions[i] for i in valid])[0]
        optimizer.zero_grad()
        (-log_prob.mean()).backward()
        optimizer.step()
        _sync(policy.device)

    train_step()
    train = _best(train_step, repeats)
    env.close()
    return {
        "backbone": backbone,
        "head": policy.head_kind,
        "finetune": finetune,
        "threads": torch.get_num_threads(),
        "device": str(policy.device),
        "precision": precision,
        "parameters": policy.num_parameters(),
        "trainable_parameters": policy.num_trainable_parameters(),
        "build_s": round(build_s, 2),
        "scorer": policy.config.scorer if policy.head_kind == "text_scorer" else None,
        "decision_ms_b1": round(1000 * decision, 1),
        "page_forward_ms_b1": round(1000 * page, 1) if page is not None else None,
        "decision_ms_b1_cached": round(1000 * cached, 1) if cached is not None else None,
        "decision_over_page": round(decision / page, 2) if page else None,
        "decisions_per_s_b32": round(32 / b32, 2),
        "train_samples_per_s": round(len(valid) / train, 2),
        "mean_candidates": float(np.mean([len(o.get("admissible_commands", ())) for o in obs]))
        if web
        else None,
        "descriptions": all("admissible_descriptions" in o for o in obs) if web else None,
        "history": all("history" in o for o in obs) if web else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backbones", nargs="+", default=EMBEDDED)
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (0: torch's default)")
    parser.add_argument("--finetune", default="lora", choices=["frozen", "lora", "full"])
    parser.add_argument("--scorer", default="biencoder", choices=SCORERS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-obs-tokens", type=int, default=256)
    parser.add_argument("--device", default="cpu", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--precision", default="fp32", choices=PRECISIONS)
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    for backbone in args.backbones:
        result = measure(
            backbone,
            args.finetune,
            args.repeats,
            args.max_obs_tokens,
            args.device,
            args.precision,
            args.scorer,
        )
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
