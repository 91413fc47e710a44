"""Which decisions saved web policies get right: greedy accuracy per kind of step, along expert episodes.

A success rate says how often a policy finishes the task, not where it goes wrong. This probe walks the
expert's own episodes on held-out goals and, at every state, asks each saved policy for its greedy
choice and the probability it gives the expert's command. States are grouped by the expert command's
kind: its verb, and for clicks the role of what it acts on, from the command's description
(``search``, ``click link`` (a WebShop product in a result list, a category), ``select`` (an option),
``click button`` (Buy now), ``back`` ...). Every policy sees the very same states, so the figures are
paired. One JSON line per policy and kind:

  policy, kind, decisions, greedy_accuracy, expert_probability (mean)

plus a line per policy with kind ``all``.

Usage:
  python benchmarks/decision_accuracy.py NAME=POLICY_DIR [NAME=POLICY_DIR ...] \\
      [--env-id rlft/WebShop-v0] [--split test] [--episodes 40] [--seed 100000]

For example, the study's pretrained and scratch BC policies at 10 demonstrations:
  python benchmarks/decision_accuracy.py \\
      pretrained=runs/study/cells/WebShop-v0/bc/pretrained/d10_s0/bc/best \\
      scratch=runs/study/cells/WebShop-v0/bc/scratch/d10_s0/bc/best
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import rlft  # noqa: F401  (registers the env ids)
import torch
from rlft.demos.record import expert_action
from rlft.policies.build import load_policy
from rlft.policies.observations import commands_of, descriptions_of
from rlft.policies.policy import AgentPolicy


def decision_kind(command: str, description: str) -> str:
    """``search``, ``select``, ``click link``, ``click button`` ...: the verb, and for clicks the role."""
    verb = command.split("[", 1)[0]
    if verb == "click" and description:
        return f"click {description.split(' ', 1)[0]}"
    return verb


def expert_probabilities(policy: AgentPolicy, obs: dict[str, Any], index: int) -> tuple[bool, float]:
    """Whether the policy's greedy choice is candidate ``index``, and the probability it gives it."""
    with torch.no_grad():
        logits, _ = policy.forward(policy.to_tensors(policy.encode_observations([obs])))
    probs = torch.softmax(logits[0].float(), dim=-1)
    return int(probs.argmax()) == index, float(probs[index])


def probe(
    policies: dict[str, AgentPolicy], env_id: str, split: str, episodes: int, seed: int
) -> list[dict[str, Any]]:
    """The JSON rows of the module docstring."""
    hits: dict[tuple[str, str], list[tuple[bool, float]]] = defaultdict(list)
    env = gym.make(env_id, split=split)
    try:
        for i in range(episodes):
            obs, _ = env.reset(seed=seed + i)
            done = False
            while not done:
                action = expert_action(env)
                commands = commands_of(obs)
                if action in commands:
                    index = commands.index(action)
                    kind = decision_kind(action, descriptions_of(obs)[index])
                    for name, policy in policies.items():
                        hits[(name, kind)].append(expert_probabilities(policy, obs, index))
                obs, _, terminated, truncated, _ = env.step(action)
                done = terminated or truncated
    finally:
        env.close()
    rows = []
    for name in policies:
        kinds = sorted({k for n, k in hits if n == name})
        everything = [h for k in kinds for h in hits[(name, k)]]
        for kind, found in [(k, hits[(name, k)]) for k in kinds] + [("all", everything)]:
            rows.append(
                {
                    "policy": name,
                    "kind": kind,
                    "decisions": len(found),
                    "greedy_accuracy": round(sum(h for h, _ in found) / max(len(found), 1), 4),
                    "expert_probability": round(sum(p for _, p in found) / max(len(found), 1), 4),
                }
            )
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    """Parse ``NAME=DIR`` policies and print the rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("policies", nargs="+", metavar="NAME=POLICY_DIR")
    parser.add_argument("--env-id", default="rlft/WebShop-v0")
    parser.add_argument("--split", default="test")
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--seed", type=int, default=100000, help="episode i resets with seed + i")
    args = parser.parse_args(argv)
    policies = {}
    for item in args.policies:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            parser.error(f"{item!r}: pass NAME=POLICY_DIR, e.g. pretrained=runs/x/best")
        policy = load_policy(path, progress=False)
        policy.train(False)
        policy.cache_frozen_encodings()
        policies[name] = policy
    torch.set_num_threads(1)
    for row in probe(policies, args.env_id, args.split, args.episodes, args.seed):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
