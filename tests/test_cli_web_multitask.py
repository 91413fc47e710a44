"""One policy across the web family on tiny budgets: BC on demonstrations of several web ids, evaluation
with a row per id (the ids the policy records, or groups of them), mixes that cannot work, and the
web-all demo suite in a quick mode."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from rlft.agents import BCConfig, train_bc
from rlft.agents.policy_io import ENV_GROUPS, env_group, expand_env_ids
from rlft.cli import main
from rlft.errors import ConfigError, UnknownNameError

LOGIN = "rlft/WebFormLogin-v0"
SURVEY = "rlft/WebFormSurvey-v0"
QA = "rlft/WebQA-v0"
TINY = ["--backbone", "tiny-bert", "--policy-kwarg", "scorer=cross_attention", "--no-progress"]


@pytest.fixture(scope="module")
def web_demos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("webmix")
    folders = {}
    for env_id in (LOGIN, SURVEY, QA):
        folder = out / env_id.removeprefix("rlft/")
        assert main(["collect", env_id, "--episodes", "2", "--out", str(folder), "--no-progress"]) == 0
        folders[env_id] = folder
    return folders


def test_mixed_web_bc_trains_one_policy_and_evaluates_a_row_per_id(
    web_demos: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mixed = ",".join(str(f) for f in web_demos.values())
    bc = ["train", "bc", "--dataset", mixed, "--out", str(tmp_path / "bc"), "--steps", "3", *TINY]
    assert main([*bc, "--batch-size", "4", "--eval-every", "3"]) == 0
    assert "BC: 3 steps" in capsys.readouterr().out
    policy = tmp_path / "bc" / "best"
    record = json.loads((policy / "rlft_env.json").read_text())
    assert record["env_ids"] == sorted(web_demos)
    # No id given: the multi-task policy is evaluated on every id it was trained on, a row each.
    ev = [
        "eval",
        "--policy",
        str(policy),
        "--episodes",
        "2",
        "--out",
        str(tmp_path / "eval"),
        "--no-progress",
    ]
    assert main(ev) == 0
    table = capsys.readouterr().out
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    rows = [r["env_id"] for r in report["results"]]
    assert rows == sorted(web_demos)
    assert all(r["split"] == "test" and r["episodes"] == 2 for r in report["results"])
    assert all(env_id in table for env_id in web_demos) and "95% CI" in table
    # `trained` names the same ids; an explicit id narrows the evaluation to it.
    assert expand_env_ids(["trained"], policy) == sorted(web_demos)
    assert expand_env_ids([QA], policy) == [QA]


def test_env_groups_expand_to_registered_ids(tmp_path: Path) -> None:
    forms, web = env_group("all-forms"), env_group("all-web")
    assert len(forms) == 14 and all(i.startswith("rlft/WebForm") for i in forms)
    assert len(web) == 16 and set(forms) < set(web) and {"rlft/WebShop-v0", QA} < set(web)
    assert len(env_group("all-tabletop")) == 11
    miniwob = env_group("all-miniwob")
    assert len(miniwob) >= 60 and all(i.startswith("rlft/MiniWoB-") for i in miniwob)
    assert not set(miniwob) & set(web) and not set(miniwob) & set(env_group("all-tabletop"))
    assert expand_env_ids([QA, "all-web"])[:2] == [QA, "rlft/WebShop-v0"]  # repeats dropped, order kept
    assert len(expand_env_ids([QA, "all-web"])) == 16
    assert expand_env_ids([]) == [None] and set(ENV_GROUPS) >= {"all-web", "all-forms", "trained"}
    with pytest.raises(UnknownNameError, match="all-web"):
        env_group("all-webs")
    with pytest.raises(ConfigError, match="trained"):
        expand_env_ids(["trained"])
    with pytest.raises(ConfigError, match="records none"):
        expand_env_ids(["trained"], tmp_path)  # a folder without a policy record


def test_a_tabletop_dataset_does_not_mix_with_web_ones(web_demos: dict[str, Path], tmp_path: Path) -> None:
    table = tmp_path / "bowl"
    bowl = ["collect", "rlft/TabletopPutBlockInBowl-v0", "--episodes", "1", "--out", str(table)]
    assert main([*bowl, "--env-kwarg", "image_size=32,32", "--no-progress"]) == 0
    config = BCConfig(dataset=f"{web_demos[LOGIN]},{table}", out_dir=str(tmp_path / "bc"), progress=False)
    with pytest.raises(ConfigError, match="Train a policy per family") as err:
        train_bc(config)
    assert "web" in str(err.value) and "tabletop" in str(err.value)
    assert not (tmp_path / "bc" / "checkpoints").exists()


def test_web_all_demo_quick(web_demos: dict[str, Path], tmp_path: Path) -> None:
    from rlft.agents.demo import DEMO_SUITES, run_demo

    full = DEMO_SUITES["web-all"]
    assert set(full.env_ids) == set(env_group("all-web")) and full.eval_splits == ("test",)
    assert full.bc["policy_kwargs"]["scorer"] == "cross_attention"
    suite = replace(full, env_ids=(LOGIN, SURVEY, QA))
    result = run_demo(suite, tmp_path / "demo", quick=True, backbone="tiny-bert")
    table = result.table()
    assert "WebFormLogin" in table and "WebQA" in table and "mean over all-forms" in table
    report = json.loads((tmp_path / "demo" / "demo_report.json").read_text())
    assert set(report["rows"]) == set(suite.env_ids) and set(report["rows"][QA]) == {"test"}
    forms = report["mean_success_by_group"]["mean over all-forms"]["test"]
    rates = [report["rows"][i]["test"]["success_rate"] for i in (LOGIN, SURVEY)]
    assert forms == pytest.approx(sum(rates) / 2)


def test_bc_warns_when_a_state_has_more_commands_than_the_sb3_view_keeps(
    web_demos: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = BCConfig(
        dataset=f"{web_demos[LOGIN]},{web_demos[SURVEY]}",
        out_dir=str(tmp_path / "bc"),
        backbone="tiny-bert",
        policy_kwargs={"max_candidates": 4},
        steps=1,
        batch_size=2,
        progress=False,
    )
    with caplog.at_level("WARNING", logger="rlft.agents.bc"):
        train_bc(config)
    assert "more than max_candidates=4" in caplog.text and "--policy-kwarg max_candidates=" in caplog.text
