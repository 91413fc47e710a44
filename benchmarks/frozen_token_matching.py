"""What a frozen backbone's token states carry for WebShop's matching, pretrained vs random weights.

The web heads match a candidate's tokens against the instruction's ("purple" in a product link against
"purple" in the request). This probe asks whether a frozen backbone's states alone make that match: on
the states an expert visits (train goals), every token of a candidate description whose id also occurs
in the instruction looks up its nearest instruction token by cosine similarity of the frozen states
(instruction and description each encoded alone). One JSON line per initialisation:

  shared_tokens           description tokens whose id occurs in the instruction (special tokens left out)
  nearest_is_same_token   share of them whose nearest instruction state is a state of the same token id
  cos_same_token          mean cosine to the best-matching state of the same id
  cos_other_tokens        mean cosine to the instruction's other tokens

``scratch`` is the study's random-weight initialisation (``scratch:<backbone>``, seeded).

Usage:
  python benchmarks/frozen_token_matching.py [--backbone minilm] [--episodes 40] [--candidates 40] [--seed 0]
"""

from __future__ import annotations

import argparse
import json

import gymnasium as gym
import rlft  # noqa: F401  (registers the env ids)
import torch
from rlft.policies.backbone import Backbone
from rlft.policies.registry import load_backbone, load_scratch


def expert_states(episodes: int, seed: int) -> list[tuple[str, list[str]]]:
    """(instruction, candidate descriptions) of every state the expert visits on ``episodes`` train goals."""
    env = gym.make("rlft/WebShop-v0")
    states = []
    try:
        for i in range(episodes):
            obs, _ = env.reset(seed=seed + i)
            done = False
            while not done:
                states.append((str(obs["instruction"]), [str(d) for d in obs["admissible_descriptions"]]))
                action = env.unwrapped.expert_action()  # type: ignore[attr-defined]
                obs, _, terminated, truncated, _ = env.step(action)
                done = terminated or truncated
    finally:
        env.close()
    return states


def probe(backbone: Backbone, states: list[tuple[str, list[str]]], candidates: int) -> dict[str, float]:
    """The matching figures of one backbone (see the module docstring)."""
    special = set(backbone.tokenizer.all_special_ids)
    hits = total = 0
    same_sum = other_sum = 0.0
    with torch.no_grad():
        for instruction, descriptions in states:
            t = backbone.tokenize([instruction], max_length=64)
            keep = torch.as_tensor(t["attention_mask"])[0].bool()
            ids = torch.as_tensor(t["input_ids"])[0][keep]
            states_i = backbone.encode_tokens(
                torch.as_tensor(t["input_ids"]), torch.as_tensor(t["attention_mask"])
            )[0][keep]
            states_i = torch.nn.functional.normalize(states_i, dim=-1)
            present = set(ids.tolist()) - special
            d = backbone.tokenize(descriptions[:candidates], max_length=32)
            d_ids, d_mask = torch.as_tensor(d["input_ids"]), torch.as_tensor(d["attention_mask"])
            states_d = torch.nn.functional.normalize(backbone.encode_tokens(d_ids, d_mask), dim=-1)
            for row, col in (
                (d_mask.bool() & torch.isin(d_ids, torch.tensor(sorted(present)))).nonzero().tolist()
            ):
                token = int(d_ids[row, col])
                sims = states_i @ states_d[row, col]
                total += 1
                hits += int(ids[int(sims.argmax())]) == token
                same_sum += float(sims[ids == token].max())
                other_sum += float(sims[ids != token].mean()) if bool((ids != token).any()) else 0.0
    return {
        "shared_tokens": total,
        "nearest_is_same_token": hits / max(total, 1),
        "cos_same_token": same_sum / max(total, 1),
        "cos_other_tokens": other_sum / max(total, 1),
    }


def main() -> None:
    """Print one JSON line per initialisation."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="minilm")
    parser.add_argument("--episodes", type=int, default=40, help="expert episodes on train goals")
    parser.add_argument(
        "--candidates", type=int, default=40, help="descriptions probed per state (the first)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="first goal's reset seed; the scratch weights' seed"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    states = expert_states(args.episodes, args.seed)
    for init, backbone in (
        ("pretrained", load_backbone(args.backbone)),
        ("scratch", load_scratch(args.backbone, init_seed=args.seed)),
    ):
        backbone.eval()
        figures = probe(backbone, states, args.candidates)
        print(
            json.dumps({"backbone": args.backbone, "init": init, "states": len(states), **figures}),
            flush=True,
        )


if __name__ == "__main__":
    main()
