"""rlft.demos: demonstrations (Minari datasets) and comparisons of episodes (Parquet) for reward models.

Typical use::

    from rlft.demos import collect_demos, load_demos

    result = collect_demos("rlft/WebShop-v0", episodes=50, out="runs/demos")   # train goals only
    dataset = load_demos(result.path)
    for obs, action in dataset.transitions():
        ...

With the plain Minari API, :func:`decode_admissible` and :func:`decode_evaluation` read back the
admissible commands and score breakdowns rlft stores as JSON text.
"""

from rlft.demos.comparisons import Comparison, read_comparisons, write_comparisons
from rlft.demos.dataset import (
    DemoDataset,
    DemoEpisode,
    decode_admissible,
    decode_evaluation,
    default_dataset_dir,
    default_dataset_id,
    load_demos,
    minari_root,
)
from rlft.demos.envs import check_env_id, check_env_kwargs, make_env, parse_env_kwargs
from rlft.demos.record import SOURCES, Actor, CollectResult, collect_demos, rollout

__all__ = [
    "SOURCES",
    "Actor",
    "CollectResult",
    "Comparison",
    "DemoDataset",
    "DemoEpisode",
    "check_env_id",
    "check_env_kwargs",
    "collect_demos",
    "decode_admissible",
    "decode_evaluation",
    "default_dataset_dir",
    "default_dataset_id",
    "load_demos",
    "make_env",
    "minari_root",
    "parse_env_kwargs",
    "read_comparisons",
    "rollout",
    "write_comparisons",
]
