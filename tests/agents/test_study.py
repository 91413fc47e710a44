"""rlft study: parsing, cell expansion, the budget rule, resume, changed settings, outputs, paired tests."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from rlft.agents.study import (
    CSV_COLUMNS,
    METHODS,
    expand_cells,
    fair_rl_steps,
    load_study_file,
    mcnemar_exact,
    paired_tests,
    plan_study,
    preset_config,
    run_study,
    study_from_mapping,
    write_outputs,
)
from rlft.agents.study import runner as study_runner
from rlft.agents.study.config import StudyArgs
from rlft.errors import ConfigError, UnknownNameError

TINY_BC = {"steps": 4, "batch_size": 4, "eval_every": 2, "checkpoint_every": 2}
TINY_RL = {"env_steps": 32, "n_envs": 2, "n_steps": 8, "batch_size": 8, "n_epochs": 1, "checkpoint_every": 16}


def tiny_env(env_id: str, **extra) -> dict:
    return {
        "env_id": env_id,
        "demos": [2],
        "backbone": "tiny-bert",
        "eval_episodes": 3,
        "rl_env_kwargs": {},
        "bc": dict(TINY_BC),
        "rl": dict(TINY_RL),
        **extra,
    }


# -- parsing ---------------------------------------------------------------------------------------------


def test_toml_file_parses_into_typed_fields(tmp_path: Path, toy_shop: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        f"""
methods = ["bc", "rl"]
inits = "scratch"
n_seeds = 2
seed = 5
budget = "rl-stage"
[[envs]]
env_id = "{toy_shop}"
demos = [1, 10]
eval_splits = ["test", "train"]
bc = {{ steps = 7 }}
"""
    )
    config = load_study_file(path, out_dir=str(tmp_path / "out"))
    assert config.methods == ("bc", "rl") and config.inits == ("scratch",)
    assert config.seeds == (5, 6)
    env = config.envs[0]
    assert env.demos == (1, 10) and env.eval_splits == ("test", "train") and env.bc == {"steps": 7}
    config.validate()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"method": ["bc"]}, "Did you mean 'methods'"),
        ({"n_seeds": "two"}, "n_seeds must be int"),
        ({"envs": [{"demos": [1]}]}, "lacks env_id"),
        ({"envs": [{"env_id": "rlft/WebShop-v0", "demo": [1]}]}, "Did you mean 'demos'"),
        ({"envs": [{"env_id": "rlft/WebShop-v0", "demos": "ten"}]}, r"demos\[\] must be int"),
        ({"envs": {"env_id": "x"}}, "list of tables"),
    ],
)
def test_bad_study_mappings_raise_config_errors(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        study_from_mapping(data)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"bc": {"stepz": 3}}, "Did you mean 'steps'"),
        ({"bc": {"dataset": "x"}}, "sets dataset itself"),
        ({"rl": {"env_id": "x"}}, "sets env_id itself"),
        ({"demos": [10, 10]}, "repeats"),
        ({"demos": [0]}, "demos"),
        ({"env_kwargs": {"no_such_kwarg": 1}}, "no_such_kwarg"),
        ({"policy": {"lexical_feature": False}}, "Did you mean 'lexical_features'"),
        ({"policy": {"backbone": "minilm"}}, "sets backbone itself"),
        ({"policy": {"scorer": "nope"}}, "policy: .*scorer"),
        ({"feedback": {"pairz": 3}}, "Did you mean 'pairs'"),
        ({"feedback": {"best_of": 0}}, "best_of"),
        ({"feedback": {"rm": {"prefs": "x"}}}, "sets prefs itself"),
        ({"feedback": {"rm": {"stepz": 3}}}, "Did you mean 'steps'"),
    ],
)
def test_bad_env_recipes_fail_validation(toy_shop: str, env: dict, message: str) -> None:
    config = study_from_mapping({"envs": [{"env_id": toy_shop, **env}]})
    with pytest.raises(ConfigError, match=message):
        config.validate()


def test_study_level_checks(toy_shop: str) -> None:
    with pytest.raises(ConfigError, match="no environment"):
        study_from_mapping({}).validate()
    with pytest.raises(ConfigError, match="method"):
        study_from_mapping({"methods": ["dagger"], "envs": [{"env_id": toy_shop}]}).validate()
    with pytest.raises(ConfigError, match="twice"):
        study_from_mapping({"envs": [{"env_id": toy_shop}, {"env_id": toy_shop}]}).validate()


def test_unreadable_files_and_unknown_presets_are_typed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No study file"):
        load_study_file(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("methods = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_study_file(bad)
    with pytest.raises(UnknownNameError, match="quick"):
        preset_config("quik")


def test_flags_override_the_preset_and_the_file(tmp_path: Path) -> None:
    from rlft.cli import build_parser, config_from_args

    path = tmp_path / "s.toml"
    path.write_text('n_seeds = 3\n[[envs]]\nenv_id = "rlft/WebFormLogin-v0"\ndemos = [4]\n')
    argv = ["study", "--preset", "quick", "--config", str(path), "--out", str(tmp_path / "o")]
    argv += ["--workers", "3", "--seed", "2", "--methods", "bc,bc+rl", "--demos", "1,5", "--no-progress"]
    args = build_parser().parse_args(argv)
    config = config_from_args(StudyArgs, args).to_study()
    assert config.n_seeds == 3 and config.seeds == (2, 3, 4)  # the file's n_seeds, the flag's seed
    assert config.workers == 3 and config.methods == ("bc", "bc+rl") and config.progress is False
    assert [e.env_id for e in config.envs] == ["rlft/WebFormLogin-v0"] and config.envs[0].demos == (1, 5)
    assert config.out_dir == str(tmp_path / "o")
    with pytest.raises(ConfigError, match="--demos"):
        StudyArgs(preset="quick", demos="1,x").to_study()


def test_presets_are_valid_studies_of_both_families() -> None:
    quick, full = preset_config("quick"), preset_config("full")
    quick.validate()
    full.validate()
    ids = [e.env_id for e in full.envs]
    assert "rlft/WebShop-v0" in ids and any("WebForm" in i for i in ids)
    forms = next(e for e in full.envs if e.multitask)
    assert forms.env_id == "all-forms" and len(forms.task_ids) == 14
    bowl = next(e for e in full.envs if e.env_id == "rlft/TabletopPutBlockInBowl-v0")
    assert bowl.demos == (1, 10, 100, 1000) and set(bowl.eval_splits) == {"train", "test"}
    assert "rlft/TabletopStackBlocks-v0" in ids
    assert set(full.methods) == {"bc", "bc+rl", "rl"} and set(full.inits) == {"pretrained", "scratch"}


# -- cells and budgets -----------------------------------------------------------------------------------


def test_cells_cross_every_axis_and_share_demonstrations(toy_shop: str) -> None:
    config = study_from_mapping({"n_seeds": 2, "envs": [tiny_env(toy_shop, demos=[1, 10])]})
    cells = expand_cells(config, {toy_shop: "web"})
    # 2 inits x 2 seeds x (bc: 2 counts + bc+rl: 2 counts + rl: 1) = 20
    assert len(cells) == 20 and len({c.key for c in cells}) == 20
    rl = [c for c in cells if c.method == "rl"]
    assert all(c.demos == 0 and c.demo_sets == () for c in rl)
    bc = next(c for c in cells if c.method == "bc" and c.demos == 10 and c.seed == 1 and c.init == "scratch")
    both = next(
        c for c in cells if c.method == "bc+rl" and c.demos == 10 and c.seed == 1 and c.init == "pretrained"
    )
    assert bc.demo_sets == both.demo_sets  # one dataset for every cell with this env, count and seed
    assert len(bc.demo_sets) == 1 and "tasks" not in bc.spec() and bc.spec()["demo_set"]["episodes"] == 10
    assert bc.backbone == "scratch:tiny-bert" and both.backbone == "tiny-bert"
    assert METHODS["bc+rl"].stages == ("bc", "rl")


LOGIN, DROPDOWN = "rlft/WebFormLogin-v0", "rlft/WebFormDropdown-v0"


def test_a_multitask_entry_trains_one_policy_on_every_id(toy_shop: str) -> None:
    config = study_from_mapping(
        {
            "methods": ["bc", "bc+rl", "rl"],
            "inits": ["pretrained"],
            "envs": [tiny_env(LOGIN), tiny_env("forms", tasks=[LOGIN, DROPDOWN]), tiny_env("all-forms")],
        }
    )
    config.validate()
    cells = expand_cells(config, {LOGIN: "web", "forms": "web", "all-forms": "web"})
    forms = [c for c in cells if c.env_id == "forms"]
    assert [c.method for c in forms] == ["bc"]  # RL trains on one env: bc alone runs on an entry
    (cell,) = forms
    assert cell.tasks == (LOGIN, DROPDOWN) and cell.key == "forms/bc/pretrained/d2_s0"
    assert [d.env_id for d in cell.demo_sets] == [LOGIN, DROPDOWN]
    single = next(c for c in cells if c.env_id == LOGIN and c.method == "bc")
    assert single.demo_sets[0] in cell.demo_sets  # the single-task cell's demonstrations are shared
    spec = cell.spec()
    assert spec["tasks"] == [LOGIN, DROPDOWN] and len(spec["demo_sets"]) == 2 and spec["demo_set"] is None
    assert cell.recipe == single.recipe  # one recipe, one training budget per policy
    group = next(c for c in cells if c.env_id == "all-forms")
    assert len(group.tasks) == 14 and all("WebForm" in t for t in group.tasks)


@pytest.mark.parametrize(
    ("env", "methods", "message"),
    [
        ({"env_id": "forms/x", "tasks": [LOGIN, DROPDOWN]}, ["bc"], "names a multi-task entry"),
        ({"env_id": "forms", "tasks": [LOGIN, LOGIN]}, ["bc"], "repeats an id"),
        ({"env_id": "forms", "tasks": [LOGIN, "rlft/NoSuch-v0"]}, ["bc"], "NoSuch"),
        ({"env_id": "forms", "tasks": [LOGIN, DROPDOWN]}, ["bc+rl", "rl"], "add bc to methods"),
        ({"env_id": "all-forms", "env_kwargs": {"no_such_kwarg": 1}}, ["bc"], "no_such_kwarg"),
    ],
)
def test_bad_multitask_entries_fail_validation(env: dict, methods: list, message: str) -> None:
    config = study_from_mapping({"methods": methods, "envs": [env]})
    with pytest.raises((ConfigError, UnknownNameError), match=message):
        config.validate()


def test_a_multitask_entry_may_not_mix_families(toy_reach: str) -> None:
    config = study_from_mapping(
        {"methods": ["bc"], "envs": [{"env_id": "mixed", "tasks": [LOGIN, toy_reach]}]}
    )
    with pytest.raises(ConfigError, match="mixes web and tabletop"):
        plan_study(config)


def test_policy_overrides_reach_every_stage_of_every_cell(toy_shop: str) -> None:
    config = study_from_mapping(
        {
            "methods": ["bc", "bc+rl", "rl"],
            "envs": [tiny_env(toy_shop, policy={"lexical_features": False})],
        }
    )
    config.validate()
    for cell in expand_cells(config, {toy_shop: "web"}):
        kwargs = study_runner._policy_kwargs(cell)
        assert kwargs["lexical_features"] is False
        assert kwargs["scorer"] == "cross_attention"  # the demo suite's setting is kept


def test_a_changed_setting_changes_the_cell_hash(toy_shop: str) -> None:
    base = expand_cells(study_from_mapping({"envs": [tiny_env(toy_shop)]}), {toy_shop: "web"})
    longer = expand_cells(
        study_from_mapping({"envs": [tiny_env(toy_shop, bc={**TINY_BC, "steps": 5})]}), {toy_shop: "web"}
    )
    assert [c.key for c in base] == [c.key for c in longer]
    assert all(a.spec_hash() != b.spec_hash() for a, b in zip(base, longer, strict=True))


def test_fair_budget_rule() -> None:
    # 512 RL steps + 10 s of BC at 20 steps/s = 712, rounded up to whole 128-step rollouts.
    assert fair_rl_steps(512, 10.0, 20.0, 128) == 768
    assert fair_rl_steps(512, 0.0, 20.0, 128) == 512
    with pytest.raises(ConfigError, match="bc_seconds"):
        fair_rl_steps(512, -1.0, 20.0, 128)
    with pytest.raises(ConfigError, match="rl_steps_per_s"):
        fair_rl_steps(512, 1.0, math.nan, 128)


def test_rl_budget_takes_the_largest_matched_reference(toy_shop: str) -> None:
    cells = expand_cells(study_from_mapping({"envs": [tiny_env(toy_shop)]}), {toy_shop: "web"})
    rl = next(c for c in cells if c.method == "rl")
    refs = [
        {"key": "a", "stages": {"bc": {"seconds_full": 2.0}, "rl": {"env_steps": 32, "steps_per_s": 10.0}}},
        {"key": "b", "stages": {"bc": {"seconds_full": 4.0}, "rl": {"env_steps": 32, "steps_per_s": 10.0}}},
    ]
    assert study_runner._rl_budget(rl, refs) == 80  # 32 + 4 s x 10 steps/s = 72 -> 5 rollouts of 16


# -- statistics and outputs ------------------------------------------------------------------------------


def test_mcnemar_exact_matches_known_values() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(1, 9) == pytest.approx(2 * (1 + 10) / 1024)  # 0.021484375
    assert mcnemar_exact(9, 1) == mcnemar_exact(1, 9)
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 64)
    assert mcnemar_exact(5, 5) == 1.0
    # Against the binomial tail at a larger count: P(X <= 10 | n=40) two-sided.
    expected = 2 * sum(math.comb(40, i) for i in range(11)) / 2**40
    assert mcnemar_exact(10, 30) == pytest.approx(expected)
    assert mcnemar_exact(10, 30) < 0.05 < mcnemar_exact(15, 25)


def fake_cell(
    method: str, init: str, demos: int, seed: int, successes: list[bool], split: str = "test"
) -> dict:
    n = len(successes)
    rate = sum(successes) / n
    return {
        "key": f"Toy-v0/{method}/{init}/d{demos}_s{seed}",
        "env_id": "rlft/Toy-v0",
        "demos": demos,
        "init": init,
        "method": method,
        "seed": seed,
        "backbone": "tiny-bert",
        "finetune": "frozen",
        "env_steps": 0 if method == "bc" else 64,
        "demo_steps": 10 * demos,
        "bc_steps": 0 if method == "rl" else 4,
        "wall_s": 1.5,
        "eval_s": 0.5,
        "evals": {
            split: {
                "episodes": n,
                "success_rate": rate,
                "success_ci": [max(0.0, rate - 0.2), min(1.0, rate + 0.2)],
                "mean_reward": rate,
                "reward_ci": [rate, rate],
                "seeds": [100 + i for i in range(n)],
                "successes": successes,
            }
        },
    }


def test_paired_tests_pair_episodes_by_seed() -> None:
    cells = [
        fake_cell("bc", "pretrained", 10, 0, [True, False, False, True]),
        fake_cell("bc+rl", "pretrained", 10, 0, [True, True, True, False]),
        fake_cell("rl", "pretrained", 0, 0, [False, False, False, False]),
        fake_cell("bc", "scratch", 10, 0, [False, False, False, False]),
    ]
    tests = {(t["comparison"], t["a"], t["b"]): t for t in paired_tests(cells)}
    method = tests[("method", "bc/pretrained/d10", "bc+rl/pretrained/d10")]
    assert (method["pairs"], method["a_only"], method["b_only"]) == (4, 1, 2)
    assert method["p_value"] == pytest.approx(mcnemar_exact(1, 2))
    assert ("rl vs bc+rl", "bc+rl/pretrained/d10", "rl/pretrained/d0") in tests
    init = tests[("init", "bc/pretrained/d10", "bc/scratch/d10")]
    assert (init["a_only"], init["b_only"]) == (2, 0)
    assert ("method", "bc/pretrained/d10", "rl/pretrained/d0") not in tests


def test_outputs_csv_table_and_plots(tmp_path: Path) -> None:
    cells = [
        fake_cell(m, i, d, s, [bool((s + k) % 2) for k in range(6)])
        for m, counts in (("bc", (1, 10)), ("bc+rl", (1, 10)), ("rl", (0,)))
        for i in ("pretrained", "scratch")
        for d in counts
        for s in (0, 1)
    ]
    outputs, table = write_outputs(tmp_path, cells)
    with open(outputs["results_csv"]) as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    assert {"env_id", "split", "demos", "init", "method", "seed", "episodes", "success_rate"} <= set(
        CSV_COLUMNS
    )
    assert {"mean_reward", "env_steps", "wall_s", "success_ci_low", "success_ci_high"} <= set(CSV_COLUMNS)
    assert len(rows) == len(cells)
    assert "| bc+rl | scratch |" in table and "exact McNemar" in table
    plot = tmp_path / "plots" / "Toy-v0_test.png"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "mcnemar.csv").read_text().startswith("env_id,split,comparison")


# -- running: resume, changed settings, workers ----------------------------------------------------------


def _toy_study(tmp_path: Path, toy_shop: str, **env) -> object:
    return study_from_mapping(
        {"methods": ["bc+rl", "rl"], "inits": ["pretrained"], "envs": [tiny_env(toy_shop, **env)]},
        out_dir=str(tmp_path / "study"),
        device="cpu",
        progress=False,
    )


class KilledError(Exception):
    """Stands for the process dying in the middle of a stage."""


def test_a_killed_cell_resumes_from_its_checkpoint(tmp_path: Path, toy_shop: str, monkeypatch) -> None:
    import rlft.agents.rl as rl_module

    real = rl_module.train_rl
    calls = {"bc": 0}

    def dying_rl(config):  # train half the budget (a checkpoint at 16 steps), then "die"
        from dataclasses import replace

        real(replace(config, env_steps=16))
        raise KilledError

    def counting_stage_bc(run):
        calls["bc"] += 1
        return stage_bc(run)

    stage_bc = study_runner.STAGES["bc"]
    monkeypatch.setitem(study_runner.STAGES, "bc", counting_stage_bc)
    monkeypatch.setattr(rl_module, "train_rl", dying_rl)
    config = _toy_study(tmp_path, toy_shop)
    first = run_study(config)
    cell_dir = tmp_path / "study" / "cells" / "ToyShop-v0" / "bc+rl" / "pretrained" / "d2_s0"
    assert any("bc+rl" in k for k in first.failed) and not (cell_dir / "result.json").exists()
    assert set(json.loads((cell_dir / "stages.json").read_text())) == {"bc"}  # half done
    assert calls["bc"] == 1

    monkeypatch.setattr(rl_module, "train_rl", real)
    second = run_study(config)
    assert not second.failed and len(second.cells) == 2
    stages = json.loads((cell_dir / "stages.json").read_text())
    assert calls["bc"] == 1  # the finished BC stage was not run again
    assert stages["rl"]["resumed_from"] == 16 and stages["rl"]["env_steps"] == 32
    rl_cell = next(c for c in second.cells if c["method"] == "rl")
    assert rl_cell["rl_env_steps_budget"] >= 32 and rl_cell["env_steps"] == rl_cell["rl_env_steps_budget"]
    per_episode = json.loads((cell_dir / "eval" / "test.json").read_text())
    assert len(per_episode["successes"]) == len(per_episode["seeds"]) == 3

    # A finished study is reused as it is: nothing runs again.
    monkeypatch.setattr(rl_module, "train_rl", dying_rl)
    third = run_study(config)
    assert not third.failed and calls["bc"] == 1
    assert [c["hash"] for c in third.cells] == [c["hash"] for c in second.cells]


def test_a_bc_stage_killed_in_the_run_that_recorded_its_demos_resumes(
    tmp_path: Path, toy_shop: str, monkeypatch
) -> None:
    """A relative --out: the dataset path the stage recorded must read the same when the study resumes."""
    import rlft.agents.bc as bc_module

    real = bc_module.train_bc

    def dying_bc(config):  # two of four steps (a checkpoint at 2), then "die"
        from dataclasses import replace

        real(replace(config, steps=2))
        raise KilledError

    monkeypatch.chdir(tmp_path)
    config = study_from_mapping(
        {"methods": ["bc"], "inits": ["pretrained"], "envs": [tiny_env(toy_shop)]},
        out_dir="study",
        device="cpu",
        progress=False,
    )
    monkeypatch.setattr(bc_module, "train_bc", dying_bc)
    assert run_study(config).failed
    monkeypatch.setattr(bc_module, "train_bc", real)
    second = run_study(config)
    assert not second.failed, second.failed
    stage = second.cells[0]["stages"]["bc"]
    assert stage["resumed_from"] == 2 and stage["steps"] == TINY_BC["steps"]


def test_stage_prefix_cells_pair_bc_with_bc_rl_only(toy_shop: str) -> None:
    config = study_from_mapping(
        {
            "methods": ["bc", "bc+rl", "rl"],
            "inits": ["pretrained", "scratch"],
            "n_seeds": 2,
            "envs": [tiny_env(toy_shop, demos=[2, 3])],
        }
    )
    cells = expand_cells(config, {toy_shop: "web"})
    for cell in cells:
        base = study_runner.stage_prefix_cell(cell, cells)
        if cell.method == "bc+rl":
            assert base is not None and base.method == "bc"
            assert (base.demos, base.init, base.seed) == (cell.demos, cell.init, cell.seed)
        else:
            assert base is None


def test_bc_rl_fine_tunes_the_bc_cells_policy(tmp_path: Path, toy_shop: str, monkeypatch) -> None:
    import rlft.agents.rl as rl_module

    stage_bc, real_rl = study_runner.STAGES["bc"], rl_module.train_rl
    trained, started_from = [], []

    def counting_stage_bc(run):
        trained.append(run.cell.key)
        return stage_bc(run)

    def recording_rl(config):
        started_from.append(config.policy)
        return real_rl(config)

    monkeypatch.setitem(study_runner.STAGES, "bc", counting_stage_bc)
    monkeypatch.setattr(rl_module, "train_rl", recording_rl)
    config = study_from_mapping(
        {"methods": ["bc", "bc+rl"], "inits": ["pretrained"], "envs": [tiny_env(toy_shop)]},
        out_dir=str(tmp_path / "study"),
        device="cpu",
        progress=False,
    )
    result = run_study(config)
    assert not result.failed, result.failed
    assert trained == ["ToyShop-v0/bc/pretrained/d2_s0"]  # one BC run serves both cells
    bc, bc_rl = (next(c for c in result.cells if c["method"] == m) for m in ("bc", "bc+rl"))
    assert started_from == [bc["stages"]["bc"]["policy_dir"]]
    assert bc_rl["stages"]["bc"]["shared_from"] == "cells/ToyShop-v0/bc/pretrained/d2_s0"
    assert bc_rl["bc_steps"] == bc["bc_steps"] == TINY_BC["steps"]
    assert bc_rl["wall_s"] > bc["wall_s"]  # the BC stage's compute still counts in bc+rl's budget


TINY_FEEDBACK = {"pairs": 4, "best_of": 4, "rm": {"steps": 4, "batch_size": 4, "eval_every": 2}}


def test_best_of_n_searches_the_bc_cells_policy_with_its_own_reward_model(
    tmp_path: Path, toy_shop: str, monkeypatch
) -> None:
    stage_bc = study_runner.STAGES["bc"]
    trained = []

    def counting_stage_bc(run):
        trained.append(run.cell.key)
        return stage_bc(run)

    monkeypatch.setitem(study_runner.STAGES, "bc", counting_stage_bc)
    config = study_from_mapping(
        {
            "methods": ["bc", "best-of-n"],
            "inits": ["pretrained"],
            "envs": [tiny_env(toy_shop, feedback=TINY_FEEDBACK)],
        },
        out_dir=str(tmp_path / "study"),
        device="cpu",
        progress=False,
    )
    result = run_study(config)
    assert not result.failed, result.failed
    assert trained == ["ToyShop-v0/bc/pretrained/d2_s0"]
    bc, search = (next(c for c in result.cells if c["method"] == m) for m in ("bc", "best-of-n"))
    rm_stage = search["stages"]["rm"]
    assert rm_stage["pairs"] == 4 and rm_stage["rm_steps"] == 4
    assert Path(rm_stage["reward_model"]).is_dir()
    assert rm_stage["policy_dir"] == bc["stages"]["bc"]["policy_dir"]  # it searched the BC policy
    ev = search["evals"]["test"]
    assert ev["best_of"] == 4 and ev["episodes"] == 3
    assert ev["seeds"] == bc["evals"]["test"]["seeds"]  # the same goals: paired with bc
    means = ev["curve"]["mean_true_score"]
    assert means["oracle"]["4"] >= means["rm"]["4"] - 1e-9  # the oracle's pick is the ceiling
    assert means["oracle"]["4"] >= means["oracle"]["1"] - 1e-9
    assert set(ev["curve"]["ns"]) == {1, 4}
    tests = (tmp_path / "study" / "mcnemar.csv").read_text()
    assert "method,bc/pretrained/d2,best-of-n/pretrained/d2" in tests

    # The search settings are part of the best-of-n cell only: changing them leaves bc's hash alone.
    changed = study_from_mapping(
        {
            "methods": ["bc", "best-of-n"],
            "inits": ["pretrained"],
            "envs": [tiny_env(toy_shop, feedback={**TINY_FEEDBACK, "best_of": 2})],
        }
    )
    old_cells = {c.method: c.spec_hash() for c in expand_cells(config, {toy_shop: "web"})}
    new_cells = {c.method: c.spec_hash() for c in expand_cells(changed, {toy_shop: "web"})}
    assert old_cells["bc"] == new_cells["bc"] and old_cells["best-of-n"] != new_cells["best-of-n"]


def test_the_plan_counts_cells_and_finished_ones(tmp_path: Path, toy_shop: str) -> None:
    config = _toy_study(tmp_path, toy_shop)
    plan = plan_study(config)
    assert "2 cells" in plan and "bc+rl/pretrained x1" in plan and "0 of 2 cells already finished" in plan
    assert not (tmp_path / "study").exists()  # planning runs nothing


def test_a_changed_study_does_not_reuse_old_cells(tmp_path: Path, toy_shop: str) -> None:
    run_study(_toy_study(tmp_path, toy_shop))
    assert "2 of 2 cells already finished" in plan_study(_toy_study(tmp_path, toy_shop))
    with pytest.raises(ConfigError, match=r"other settings.*bc\.steps: 4 -> 5"):
        run_study(_toy_study(tmp_path, toy_shop, bc={**TINY_BC, "steps": 5}))


def test_a_multitask_cell_gives_rows_per_id_beside_the_single_task_cells(tmp_path: Path, monkeypatch) -> None:
    config = study_from_mapping(
        {
            "methods": ["bc"],
            "inits": ["pretrained"],
            "envs": [tiny_env(LOGIN), tiny_env("forms", tasks=[LOGIN, DROPDOWN])],
        },
        out_dir=str(tmp_path / "study"),
        device="cpu",
        progress=False,
    )
    result = run_study(config)
    assert not result.failed, result.failed
    out = tmp_path / "study"
    assert sorted(p.parent.name for p in out.glob("demos/*/n2_s0")) == sorted(
        [LOGIN.split("/")[1], DROPDOWN.split("/")[1]]
    )  # Login's demonstrations serve both cells
    cell = out / "cells" / "forms" / "bc" / "pretrained" / "d2_s0"
    bc_config = json.loads((cell / "bc" / "bc_config.json").read_text())
    assert bc_config["dataset"].count(",") == 1  # one BC run on both ids' demonstrations
    for task in (LOGIN, DROPDOWN):
        outcomes = json.loads((cell / "eval" / task.split("/")[1] / "test.json").read_text())
        assert len(outcomes["successes"]) == 3
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert {(r["env_id"], r["trained_on"]) for r in rows} == {
        (LOGIN, LOGIN),
        (LOGIN, "forms"),
        (DROPDOWN, "forms"),
    }
    forms = [r for r in rows if r["trained_on"] == "forms"]
    assert all(r["method"] == "bc" and r["cell"] == "forms/bc/pretrained/d2_s0" for r in forms)
    assert int(forms[0]["demo_steps"]) > int(next(r for r in rows if r["trained_on"] == LOGIN)["demo_steps"])
    with open(out / "mcnemar.csv") as f:
        tests = list(csv.DictReader(f))
    (tasks,) = [t for t in tests if t["comparison"] == "tasks"]
    assert tasks["env_id"] == LOGIN and {tasks["a"], tasks["b"]} == {
        "bc/pretrained/d2",
        "bc [forms]/pretrained/d2",
    }
    assert int(tasks["pairs"]) == 3
    assert "bc [forms]" in (out / "results.md").read_text()
    assert (out / "plots" / "WebFormDropdown-v0_test.png").is_file()
    # An evaluation killed half-way (one id's file written) resumes with the other id's only.
    (cell / "result.json").unlink()
    (cell / "eval" / DROPDOWN.split("/")[1] / "test.json").unlink()
    evaluated = []
    real = study_runner._evaluate
    monkeypatch.setattr(
        study_runner,
        "_evaluate",
        lambda run, env_id, split: evaluated.append(env_id) or real(run, env_id, split),
    )
    again = run_study(config)
    assert not again.failed and evaluated == [DROPDOWN]
    assert [c["hash"] for c in again.cells] == [c["hash"] for c in result.cells]


@pytest.mark.integration  # two spawned worker processes each import torch, transformers and SB3
def test_two_workers_run_a_tiny_study_end_to_end(tmp_path: Path) -> None:
    config = study_from_mapping(
        {
            "methods": ["bc", "bc+rl", "rl"],
            "inits": ["pretrained", "scratch"],
            "workers": 2,
            "envs": [tiny_env("rlft/WebFormLogin-v0")],
        },
        out_dir=str(tmp_path / "study"),
        device="cpu",
        progress=False,
    )
    result = run_study(config)
    assert not result.failed, result.failed
    with open(tmp_path / "study" / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert {(r["method"], r["init"]) for r in rows} == {
        (m, i) for m in ("bc", "bc+rl", "rl") for i in ("pretrained", "scratch")
    }
    for row in rows:
        assert int(row["episodes"]) == 3 and float(row["wall_s"]) > 0
        assert (int(row["env_steps"]) > 0) == (row["method"] != "bc")
    scratch_bc = next(c for c in result.cells if c["method"] == "bc" and c["init"] == "scratch")
    assert scratch_bc["backbone"] == "scratch:tiny-bert"
    assert (tmp_path / "study" / "plots" / "WebFormLogin-v0_test.png").is_file()


def test_a_worker_ends_when_the_study_process_is_gone() -> None:
    import concurrent.futures as cf
    import multiprocessing
    import time
    from concurrent.futures.process import BrokenProcessPool

    # A pid that is not the worker's parent stands for a study process that was killed.
    pool = cf.ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=study_runner._exit_with_parent,
        initargs=(-1, 0.05),
    )
    try:
        with pytest.raises(BrokenProcessPool):
            pool.submit(time.sleep, 60).result(timeout=50)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def test_an_interrupted_study_passes_the_interrupt_to_its_workers(tmp_path: Path) -> None:
    import concurrent.futures as cf
    import multiprocessing
    import os
    import time

    (tmp_path / "study.json").write_text("{}")
    started = tmp_path / "started"
    # A task that says when it has started, then runs long (exec: a picklable stdlib callable).
    long_task = f"import pathlib, time; pathlib.Path({str(started)!r}).touch(); time.sleep(120)"
    pool = cf.ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=study_runner._exit_with_parent,
        initargs=(os.getpid(),),
    )
    try:
        assert pool.submit(os.getpgid, 0).result(timeout=60) != os.getpgid(0)  # its own process group
        future = pool.submit(study_runner._in_study, tmp_path, exec, long_task, {})
        deadline = time.monotonic() + 60
        while not started.exists():
            assert time.monotonic() < deadline, "the task did not start"
            time.sleep(0.05)
        study_runner._interrupt_workers(pool)
        with pytest.raises(KeyboardInterrupt):
            future.result(timeout=60)  # the running task stopped
        started.unlink()
        # A task queued to the worker after the interrupt does not start, and the worker lives on.
        with pytest.raises(KeyboardInterrupt, match="before this task started"):
            pool.submit(study_runner._in_study, tmp_path, exec, long_task, {}).result(timeout=60)
        assert not started.exists()
        assert pool.submit(os.getpgid, 0).result(timeout=60) != os.getpgid(0)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def test_a_worker_interrupted_while_idle_stays_alive_and_starts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signal

    (tmp_path / "study.json").write_text("{}")
    stop = study_runner._WorkerStop()
    monkeypatch.setattr(study_runner, "_WORKER_STOP", stop)
    calls: list[int] = []
    assert study_runner._in_study(tmp_path, calls.append, 1) is None and calls == [1]
    stop.handle(signal.SIGINT, None)  # idle: no exception (it would end the worker and break the pool)
    assert stop.requested and not stop.in_task
    with pytest.raises(KeyboardInterrupt, match="before this task started"):
        study_runner._in_study(tmp_path, calls.append, 2)
    assert calls == [1] and not stop.in_task
    stop.in_task = True  # a task running: the interrupt reaches it
    with pytest.raises(KeyboardInterrupt):
        stop.handle(signal.SIGINT, None)
    # Outside a pool worker (the study process itself, Ray tasks) nothing is refused.
    monkeypatch.setattr(study_runner, "_WORKER_STOP", None)
    assert study_runner._in_study(tmp_path, calls.append, 3) is None and calls == [1, 3]


def test_cli_plans_helps_and_exits_2_on_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rlft.cli import main

    with pytest.raises(SystemExit):
        main(["study", "--help"])
    text = capsys.readouterr().out
    for flag in ("--config", "--preset", "--out", "--workers", "--progress, --no-progress", "--plan"):
        assert flag in text, flag
    assert main(["study", "--preset", "quick", "--plan", "--out", str(tmp_path / "q")]) == 0
    assert "10 cells" in capsys.readouterr().out and not (tmp_path / "q").exists()
    assert main(["study", "--out", str(tmp_path / "none")]) == 2
    assert "no environment" in capsys.readouterr().err
    assert main(["study", "--preset", "quik"]) == 2
    assert "Did you mean 'quick'" in capsys.readouterr().err


def test_ray_flags_reach_the_study_config(tmp_path: Path) -> None:
    from rlft.cli import build_parser, config_from_args

    parser = build_parser()
    base = ["study", "--preset", "quick", "--out", str(tmp_path / "o")]
    local = config_from_args(StudyArgs, parser.parse_args(base)).to_study()
    assert local.ray is None and local.cell_cpus == 1.0 and local.cell_gpus == 0.0
    argv = [*base, "--ray", "--cell-cpus", "2", "--cell-gpus", "0.5", "--cell-retries", "0"]
    config = config_from_args(StudyArgs, parser.parse_args([*argv, "--cell-timeout", "60"])).to_study()
    assert config.ray == "local" and (config.cell_cpus, config.cell_gpus) == (2.0, 0.5)
    assert config.cell_retries == 0 and config.cell_timeout == 60.0
    config.validate()
    joined = config_from_args(StudyArgs, parser.parse_args([*base, "--ray", "head:6379"])).to_study()
    assert joined.ray == "head:6379"
    with pytest.raises(ConfigError, match="cell_gpus"):
        preset_config("quick", cell_gpus=-1.0).validate()
    with pytest.raises(ConfigError, match="cell_timeout"):
        preset_config("quick", cell_timeout=0.0).validate()


def test_a_task_that_cannot_see_the_study_folder_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not visible.*same path"):
        study_runner._in_study(tmp_path / "elsewhere", len, [1, 2])  # another node, no shared folder
    (tmp_path / "study.json").write_text("{}")
    assert study_runner._in_study(tmp_path, len, [1, 2]) == 2
