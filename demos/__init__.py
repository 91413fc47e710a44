"""rlft.demos: recording expert demonstrations into Minari datasets and reading them back.

Typical use::

    from rlft.demos import collect_demos, load_demos

    result = collect_demos("rlft/WebShop-v0", episodes=50, out="runs/demos")   # train goals only
    dataset = load_demos(result.path)
    for obs, action in dataset.transitions():
        ...
"""

from rlft.demos.dataset import (
    DemoDataset,
    DemoEpisode,
    default_dataset_dir,
    default_dataset_id,
    load_demos,
    minari_root,
)
from rlft.demos.envs import check_env_id, make_env
from rlft.demos.record import CollectResult, collect_demos, rollout_expert

__all__ = [
    "CollectResult",
    "DemoDataset",
    "DemoEpisode",
    "check_env_id",
    "collect_demos",
    "default_dataset_dir",
    "default_dataset_id",
    "load_demos",
    "make_env",
    "minari_root",
    "rollout_expert",
]
