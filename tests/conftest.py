"""Shared test configuration (torch single-threaded, everything offline) and small shared helpers."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture
def tiny_rl_settings() -> dict[str, object]:
    """RLConfig fields of a seconds-long PPO run on a web form with a fresh tiny policy."""
    return {
        "env_id": "rlft/WebFormLogin-v0",
        "backbone": "tiny-bert",
        "anchor": "none",
        "env_steps": 16,
        "n_envs": 2,
        "n_steps": 8,
        "batch_size": 8,
        "n_epochs": 1,
        "max_steps": 4,
        "progress": False,
    }


def read_weights(folder: object) -> dict[str, object]:
    """Every tensor of every safetensors file below ``folder``, keyed by file and name."""
    from pathlib import Path

    from safetensors.numpy import load_file

    root = Path(str(folder))
    files = sorted(root.rglob("*.safetensors"))
    assert files, f"no safetensors under {root}"
    return {f"{f.relative_to(root)}:{k}": v for f in files for k, v in load_file(f).items()}


@pytest.fixture
def weights() -> object:
    """:func:`read_weights`, for comparing saved policies."""
    return read_weights
