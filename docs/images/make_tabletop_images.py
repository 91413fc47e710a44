"""Write one picture per tabletop task to docs/images/tabletop_<task>.png (for the README task table).

Each picture is the front view halfway through the expert's episode (seed 0), so the goal is visible in
progress. Run from the repository root:

    .venv/bin/python docs/images/make_tabletop_images.py
"""

from __future__ import annotations

import json
from pathlib import Path

import imageio.v2 as imageio
from rlft.envs.tabletop.env import TabletopEnv
from rlft.envs.tabletop.tasks import TASKS

OUT = Path(__file__).resolve().parent


def main() -> None:
    """Render every task and print the instructions shown (the README captions)."""
    captions = {}
    for task in sorted(TASKS):
        env = TabletopEnv(task, render_mode="rgb_array")
        obs, _ = env.reset(seed=0)
        moves = []
        done = False
        while not done:
            moves.append(env.expert_action())
            _, _, terminated, truncated, _ = env.step(moves[-1])
            done = terminated or truncated
        # Replay up to half of the expert's moves and take the picture there.
        env.reset(seed=0)
        for action in moves[: len(moves) // 2]:
            env.step(action)
        path = OUT / f"tabletop_{task}.png"
        imageio.imwrite(path, env.render(), optimize=True)
        captions[task] = obs["instruction"]
        env.close()
    print(json.dumps(captions, indent=1))


if __name__ == "__main__":
    main()
