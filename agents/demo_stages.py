"""Stages the ``rlft demo`` pipelines share (:mod:`rlft.agents.demo`, :mod:`rlft.agents.multitask`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from rlft.agents.config import RunConfig
from rlft.demos.dataset import DemoDataset
from rlft.demos.record import collect_demos
from rlft.errors import DatasetError

__all__ = ["reuse_or_collect", "stage_settings"]

logger = logging.getLogger(__name__)


def stage_settings(run: RunConfig) -> dict[str, Any]:
    """The seed, device, precision and threads every stage of a demo runs with."""
    return {
        "seed": run.seed,
        "device": run.device,
        "precision": run.precision,
        "num_threads": run.num_threads,
    }


def reuse_or_collect(
    env_id: str,
    episodes: int,
    folder: Path,
    *,
    split: str,
    seed: int,
    env_kwargs: dict[str, Any],
    progress: bool,
) -> None:
    """Record ``episodes`` expert episodes of ``env_id`` into ``folder`` unless it holds a dataset."""
    try:
        dataset = DemoDataset(folder)
        logger.info("reusing %s", dataset)
    except DatasetError:
        collect_demos(
            env_id,
            episodes,
            out=folder,
            split=split,
            seed=seed,
            env_kwargs=env_kwargs,
            overwrite=True,
            progress=progress,
        )
