"""Print the README's table of environment ids: description and an example instruction for each.

python scripts/env_table.py > /tmp/table.md
"""

from __future__ import annotations

import gymnasium as gym
import rlft
from rlft.envs import describe_envs


def main() -> None:
    """Print one markdown row per registered id: the instruction of ``reset(seed=0)``, default split."""
    print("| id | task | example instruction (seed 0) |")
    print("| --- | --- | --- |")
    for env_id, description in describe_envs().items():
        env = gym.make(env_id)
        obs, _ = env.reset(seed=0)
        env.close()
        instruction = " ".join(obs["instruction"].split()).replace("|", "\\|")
        print(f"| `{env_id}` | {description} | {instruction} |")
    assert len(rlft.ENV_IDS) == len(describe_envs())


if __name__ == "__main__":
    main()
