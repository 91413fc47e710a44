"""Tabletop runs through the `rlft` command on tiny budgets: ee_delta BC + RL with both heads, BC on mixed
multi-task datasets with the step index, and the tabletop-all demo suite in a quick mode."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from rlft.cli import main

BOWL = "rlft/TabletopPutBlockInBowl-v0"
ZONE = "rlft/TabletopPlaceInZone-v0"
SMALL = ["--env-kwarg", "image_size=32,32", "--no-progress"]


@pytest.fixture(scope="module")
def ee_demos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ee") / "demos"
    kwargs = ["--env-kwarg", "action_mode=ee_delta", "--env-kwarg", "proprioception=true", *SMALL]
    # ee_delta episodes are 40x longer than the registered limit: collect needs no --max-steps for them.
    assert main(["collect", BOWL, "--episodes", "2", "--out", str(out), *kwargs]) == 0
    return out


@pytest.mark.parametrize("head", ["ee_gaussian", "ee_binned"])
def test_ee_delta_bc_then_rl_then_eval(
    head: str, ee_demos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bc = ["train", "bc", "--dataset", str(ee_demos), "--out", str(tmp_path / "bc"), "--backbone", "tiny-clip"]
    bc += [
        "--steps",
        "2",
        "--eval-every",
        "2",
        "--policy-kwarg",
        f"head={head}",
        "--policy-kwarg",
        "head_hidden=16",
    ]
    assert main([*bc, "--no-progress"]) == 0
    assert "BC: 2 steps" in capsys.readouterr().out
    config = json.loads((tmp_path / "bc" / "best" / "config.json").read_text())
    assert config["head_kind"] == config["policy_config"]["head"] == head
    assert config["interface"]["action_dim"] == 5 and config["interface"]["state_keys"] == ["ee_state"]
    rl = ["train", "rl", "--policy", str(tmp_path / "bc" / "best"), "--out", str(tmp_path / "rl")]
    rl += ["--anchor-dataset", str(ee_demos), "--env-steps", "8", "--n-envs", "2", "--n-steps", "4"]
    assert main([*rl, "--batch-size", "4", "--n-epochs", "1", "--max-steps", "6", "--no-progress"]) == 0
    assert "RL: 8 env steps" in capsys.readouterr().out
    ev = ["eval", "--policy", str(tmp_path / "rl" / "policy"), "--episodes", "1", "--max-steps", "3"]
    assert main([*ev, "--out", str(tmp_path / "eval"), "--no-progress"]) == 0
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert report["results"][0]["env_id"] == BOWL and report["results"][0]["lengths"] == [3]


def test_bc_mixes_datasets_of_several_tasks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    step = ["--env-kwarg", "step_observation=true", *SMALL]
    for env_id, name in ((BOWL, "bowl"), (ZONE, "zone")):
        assert main(["collect", env_id, "--episodes", "2", "--out", str(tmp_path / name), *step]) == 0
    mixed = f"{tmp_path / 'bowl'},{tmp_path / 'zone'}"
    bc = ["train", "bc", "--dataset", mixed, "--out", str(tmp_path / "bc"), "--backbone", "tiny-clip"]
    assert main([*bc, "--steps", "2", "--policy-kwarg", "head_hidden=16", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "BC: 2 steps" in out
    record = json.loads((tmp_path / "bc" / "policy" / "rlft_env.json").read_text())
    assert record["env_ids"] == sorted([BOWL, ZONE])
    # The step index reaches the policy, and every trained id evaluates with the recorded view.
    ev = ["eval", ZONE, BOWL, "--policy", str(tmp_path / "bc" / "policy"), "--episodes", "1"]
    assert main([*ev, "--out", str(tmp_path / "eval"), "--no-progress"]) == 0
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert [r["env_id"] for r in report["results"]] == [ZONE, BOWL]
    assert report["provenance"]["env_kwargs"][BOWL]["step_observation"] is True
    # Datasets recorded with other spaces do not mix.
    assert main(["collect", BOWL, "--episodes", "1", "--out", str(tmp_path / "plain"), *SMALL]) == 0
    bad = [
        "train",
        "bc",
        "--dataset",
        f"{tmp_path / 'bowl'},{tmp_path / 'plain'}",
        "--out",
        str(tmp_path / "x"),
    ]
    assert main([*bad, "--backbone", "tiny-clip", "--steps", "1", "--no-progress"]) == 2
    assert "different observation or action spaces" in capsys.readouterr().err


def test_tabletop_all_demo_quick(tmp_path: Path) -> None:
    from rlft.agents.demo import DEMO_SUITES, run_demo

    full = DEMO_SUITES["tabletop-all"]
    assert len(full.env_ids) == 11 and full.env_kwargs["step_observation"] is True
    suite = replace(full, env_ids=(BOWL, ZONE), env_kwargs={**full.env_kwargs, "image_size": (32, 32)})
    result = run_demo(suite, tmp_path / "demo", quick=True, backbone="tiny-clip")
    table = result.table()
    assert "PutBlockInBowl" in table and "PlaceInZone" in table and "mean over tasks" in table
    report = json.loads((tmp_path / "demo" / "demo_report.json").read_text())
    assert set(report["rows"]) == {BOWL, ZONE} and set(report["rows"][BOWL]) == {"train", "test"}
    assert set(report["mean_success"]) == {"train", "test"}
