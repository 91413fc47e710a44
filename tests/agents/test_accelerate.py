"""Training under accelerate: one CPU process gives the run without the flag; two processes agree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rlft.agents import BCConfig, RLConfig, train_bc, train_rl
from rlft.agents.accelerate import launched_processes, start_accelerate
from rlft.demos import collect_demos
from rlft.errors import ConfigError

pytest.importorskip("accelerate")


@pytest.fixture(scope="module")
def login_demos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("acc") / "demos"
    collect_demos("rlft/WebFormLogin-v0", 4, out=out)
    return out


def _config(dataset: Path, out: Path, **kw: object) -> BCConfig:
    base: dict[str, object] = {
        "backbone": "tiny-bert",
        "steps": 6,
        "batch_size": 8,
        "eval_every": 3,
        "checkpoint_every": 3,
        "device": "cpu",
        "progress": False,
    }
    base.update(kw)
    return BCConfig(dataset=str(dataset), out_dir=str(out), **base)  # type: ignore[arg-type]


def test_one_process_with_accelerate_is_the_run_without_it(
    login_demos: Path, tmp_path: Path, weights: Any
) -> None:
    plain = train_bc(_config(login_demos, tmp_path / "plain"))
    accel = train_bc(_config(login_demos, tmp_path / "accel", accelerate=True))
    assert plain.metrics == accel.metrics and plain.steps == accel.steps
    a, b = weights(plain.final_dir), weights(accel.final_dir)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_the_helper_on_one_process() -> None:
    import torch

    run = start_accelerate(True, torch.device("cpu"))
    assert (run.num_processes, run.process_index, run.is_main) == (1, 0, True)
    assert run.device.type == "cpu"
    rows = list(range(7))
    assert run.shard(rows) == rows
    per_row = torch.tensor([1.0, 2.0, 4.0])
    assert run.batch_loss(per_row, 3).item() == per_row.mean().item()
    assert run.total(2.5) == 2.5
    run.wait()


def test_a_multi_process_launch_without_the_flag_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setenv("WORLD_SIZE", "2")
    assert launched_processes() == 2
    with pytest.raises(ConfigError, match="--accelerate"):
        start_accelerate(False, torch.device("cpu"))


@pytest.mark.integration
def test_two_cpu_processes_learn_what_one_process_learns(
    login_demos: Path, tmp_path: Path, weights: Any
) -> None:
    """``accelerate launch --num_processes 2 --cpu``: half a batch each, gradients summed (gloo)."""
    launcher = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    if launcher is None:
        pytest.skip("the accelerate launcher is not installed next to this Python")
    one = train_bc(_config(login_demos, tmp_path / "one", eval_every=6, checkpoint_every=6))
    command = [
        launcher, "launch", "--num_processes", "2", "--cpu", "--num_machines", "1", "--mixed_precision", "no",
        "--dynamo_backend", "no", "--main_process_port", "0", "-m", "rlft.cli", "train", "bc",
        "--dataset", str(login_demos), "--out", str(tmp_path / "two"), "--backbone", "tiny-bert",
        "--steps", "6", "--batch-size", "8", "--eval-every", "6", "--checkpoint-every", "6",
        "--device", "cpu", "--no-progress", "--accelerate",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    a, b = weights(one.final_dir), weights(tmp_path / "two" / "policy")
    assert a.keys() == b.keys()
    for k in a:  # the same update up to the order of float sums
        np.testing.assert_allclose(a[k], b[k], rtol=1e-4, atol=1e-6)


def test_rl_on_one_process_with_accelerate_is_the_run_without_it(
    tmp_path: Path, tiny_rl_settings: dict[str, Any], weights: Any
) -> None:
    common = {**tiny_rl_settings, "device": "cpu"}
    plain = train_rl(RLConfig(out_dir=str(tmp_path / "plain"), **common))
    accel = train_rl(RLConfig(out_dir=str(tmp_path / "accel"), accelerate=True, **common))
    assert plain.timesteps == accel.timesteps == 16 and plain.metrics == accel.metrics
    a, b = weights(plain.policy_dir), weights(accel.policy_dir)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.integration
def test_rl_on_two_cpu_processes_trains_and_counts_both(tmp_path: Path, weights: Any) -> None:
    """Two processes, two envs each: 32 steps in total, gradients averaged, one policy written."""
    launcher = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    if launcher is None:
        pytest.skip("the accelerate launcher is not installed next to this Python")
    command = [
        launcher, "launch", "--num_processes", "2", "--cpu", "--num_machines", "1", "--mixed_precision", "no",
        "--dynamo_backend", "no", "--main_process_port", "0", "-m", "rlft.cli", "train", "rl",
        "rlft/WebFormLogin-v0", "--out", str(tmp_path / "two"), "--backbone", "tiny-bert", "--anchor", "none",
        "--env-steps", "32", "--n-envs", "2", "--n-steps", "8", "--batch-size", "8", "--n-epochs", "1",
        "--checkpoint-every", "32", "--max-steps", "4", "--device", "cpu", "--no-progress", "--accelerate",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    checkpoints = sorted((tmp_path / "two" / "checkpoints").glob("step_*"))
    assert [c.name for c in checkpoints] == ["step_00000032"]
    assert weights(tmp_path / "two" / "policy")
