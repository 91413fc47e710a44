"""The run-config base: seeds reach the head, devices and precision, resume checks, TensorBoard purge."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from rlft.agents import BCConfig, CollectConfig, EvalConfig, RLConfig, run_collect, train_bc, train_rl
from rlft.agents.config import (
    AgentChoice,
    EnvConfig,
    PolicySpec,
    ResumableConfig,
    RunConfig,
    TrainConfig,
    autocast,
    resolve_progress,
)
from rlft.errors import ConfigError
from safetensors.torch import load_file


@pytest.fixture(scope="module")
def toy_demos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cfg") / "demos"
    run_collect(CollectConfig(env_id="rlft-test/ToyShop-v0", episodes=4, out_dir=str(out), progress=False))
    return out


def _bc(dataset: Path, out: Path, **kw: object) -> BCConfig:
    base: dict[str, object] = {"backbone": "tiny-bert", "steps": 2, "batch_size": 4, "eval_every": 2}
    base.update(kw)
    return BCConfig(dataset=str(dataset), out_dir=str(out), progress=False, **base)  # type: ignore[arg-type]


def _head(policy_dir: Path) -> dict[str, torch.Tensor]:
    return {k: v for k, v in load_file(str(policy_dir / "model.safetensors")).items() if "head" in k}


def test_no_field_is_declared_in_two_config_parts() -> None:
    parts = (RunConfig, ResumableConfig, TrainConfig, EnvConfig, PolicySpec, AgentChoice)
    owners: dict[str, type] = {}
    for part in parts:
        own = set(part.__annotations__) - {"RESUMABLE_CHANGES", "DEFAULT_SPLIT"}
        for name in own:
            assert name not in owners, f"{name} declared in {owners[name].__name__} and {part.__name__}"
            owners[name] = part
    for config in (BCConfig, RLConfig, EvalConfig, CollectConfig):
        own = set(config.__annotations__) - {"RESUMABLE_CHANGES", "DEFAULT_SPLIT"}
        assert not own & set(owners), f"{config.__name__} re-declares {own & set(owners)}"
        assert {f.name for f in dataclasses.fields(config)} >= {"seed", "device", "precision", "out_dir"}


def test_seed_reaches_the_head_initialisation(toy_demos: Path, tmp_path: Path) -> None:
    heads = {}
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        result = train_bc(_bc(toy_demos, tmp_path / name, seed=seed, lr=0.0, steps=1))
        heads[name] = _head(result.final_dir)
    assert heads["a"] and heads["a"].keys() == heads["c"].keys()
    assert all(torch.equal(heads["a"][k], heads["b"][k]) for k in heads["a"])
    assert not all(torch.equal(heads["a"][k], heads["c"][k]) for k in heads["a"])


def test_run_configs_check_device_and_precision(monkeypatch: pytest.MonkeyPatch) -> None:
    assert BCConfig(dataset="d", out_dir="o", device="cpu").torch_device() == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert BCConfig(dataset="d", out_dir="o").torch_device() == torch.device("cpu")
    with pytest.raises(ConfigError, match="no GPU"):
        BCConfig(dataset="d", out_dir="o", device="cuda").torch_device()
    with pytest.raises(ConfigError, match=r"fp16.*CUDA"):
        BCConfig(dataset="d", out_dir="o", device="cpu", precision="fp16").torch_device()


def test_autocast_follows_the_precision_and_rl_refuses_fp16() -> None:
    a, b = torch.ones(2, 2), torch.ones(2, 2)
    with autocast(torch.device("cpu"), "bf16"):
        assert (a @ b).dtype == torch.bfloat16
    with autocast(torch.device("cpu"), "fp32"):
        assert (a @ b).dtype == torch.float32
    with pytest.raises(ConfigError, match="fp32 or bf16"):
        RLConfig(
            env_id="rlft-test/ToyShop-v0", out_dir="o", policy="p", precision="fp16", anchor="none"
        ).validate()


def test_progress_auto_is_off_when_stderr_is_not_a_terminal() -> None:
    assert resolve_progress(None) is False  # pytest captures stderr
    assert resolve_progress(True) is True and resolve_progress(False) is False
    assert RunConfig().progress is None


def test_resume_with_other_settings_is_refused_unless_forced(toy_demos: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train_bc(_bc(toy_demos, run))
    with pytest.raises(
        ConfigError, match=r"backbone: 'tiny-bert' -> 'minilm'.*lr: 0.001 -> 0.5.*--force-config"
    ):
        train_bc(_bc(toy_demos, run, lr=0.5, backbone="minilm"))
    assert json.loads((run / "bc_config.json").read_text())["lr"] == 1e-3  # not overwritten
    longer = train_bc(_bc(toy_demos, run, steps=4))  # a longer budget is a resume, not a new run
    assert longer.resumed_from == 2 and longer.steps == 4
    forced = train_bc(_bc(toy_demos, run, steps=4, lr=0.5, force_config=True))
    assert forced.resumed_from == 4
    assert json.loads((run / "bc_config.json").read_text())["lr"] == 0.5


def test_bc_resume_refuses_a_dataset_recorded_again(tmp_path: Path) -> None:
    demos, run = tmp_path / "demos", tmp_path / "run"
    collect = {"env_id": "rlft-test/ToyShop-v0", "episodes": 3, "out_dir": str(demos), "progress": False}
    run_collect(CollectConfig(**collect))  # type: ignore[arg-type]
    train_bc(_bc(demos, run))
    run_collect(CollectConfig(**collect, seed=7, overwrite=True))  # type: ignore[arg-type]
    with pytest.raises(
        ConfigError, match=r"demonstrations: '\d+ transitions, sha256 \w+' -> '\d+ transitions"
    ):
        train_bc(_bc(demos, run, steps=4))
    assert train_bc(_bc(demos, run, steps=4, force_config=True)).resumed_from == 2


def test_bc_resume_refuses_the_same_goals_and_actions_with_other_observations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-recorded with the same seed, the same goals and actions but other pages: other data."""
    from tests.agents.conftest import ToyShopEnv

    demos, run = tmp_path / "demos", tmp_path / "run"
    collect = {"env_id": "rlft-test/ToyShop-v0", "episodes": 3, "out_dir": str(demos), "progress": False}
    run_collect(CollectConfig(**collect))  # type: ignore[arg-type]
    train_bc(_bc(demos, run))
    again = train_bc(_bc(demos, run, steps=3))  # the same data resumes
    assert again.resumed_from == 2
    shown = ToyShopEnv._obs
    monkeypatch.setattr(ToyShopEnv, "_obs", lambda self, error="": shown(self, error) | {"page": "new look"})
    run_collect(CollectConfig(**collect, overwrite=True))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"demonstrations: '\d+ transitions, sha256 \w+' -> "):
        train_bc(_bc(demos, run, steps=4))


def _scalar_steps(tb: Path) -> dict[str, list[int]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tb))
    acc.Reload()
    return {tag: [e.step for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def _rewind(run: Path, step: int) -> None:
    """Point latest.json at an older checkpoint: what a crash right after logging newer steps leaves."""
    (run / "checkpoints" / "latest.json").write_text(json.dumps({"step": step, "name": f"step_{step:08d}"}))


def test_bc_resume_logs_no_duplicate_tensorboard_steps(toy_demos: Path, tmp_path: Path) -> None:
    run = tmp_path / "tb"
    train_bc(_bc(toy_demos, run, steps=6, checkpoint_every=3, eval_every=3))
    _rewind(run, 3)
    again = train_bc(_bc(toy_demos, run, steps=6, checkpoint_every=3, eval_every=3))
    assert again.resumed_from == 3
    steps = _scalar_steps(run / "tb")
    assert steps["bc/train_loss"] == [1, 2, 3, 4, 5, 6]


def test_rl_resume_logs_no_duplicate_tensorboard_steps(toy_demos: Path, tmp_path: Path) -> None:
    bc = train_bc(_bc(toy_demos, tmp_path / "bc"))
    run = tmp_path / "rl"

    def config() -> RLConfig:
        return RLConfig(
            env_id="rlft-test/ToyShop-v0",
            policy=str(bc.policy_dir),
            out_dir=str(run),
            anchor="none",
            env_steps=48,
            n_envs=2,
            n_steps=8,
            batch_size=8,
            n_epochs=1,
            checkpoint_every=16,
            keep_checkpoints=5,
            progress=False,
        )

    train_rl(config())
    _rewind(run, 16)
    again = train_rl(config())
    assert again.resumed_from == 16 and again.timesteps == 48
    steps = _scalar_steps(run / "tb" / "rl_1")
    assert steps and all(len(s) == len(set(s)) for s in steps.values()), steps
    assert not (run / "tb" / "rl_2").exists()


def test_rl_takes_its_environment_from_the_policy_record(toy_demos: Path, tmp_path: Path) -> None:
    bc = train_bc(_bc(toy_demos, tmp_path / "bc"))
    record = json.loads((bc.policy_dir / "rlft_env.json").read_text())
    assert record["env_id"] == "rlft-test/ToyShop-v0" and record["split"] == "train"
    rl = train_rl(
        RLConfig(
            policy=str(bc.policy_dir),
            out_dir=str(tmp_path / "rl"),
            anchor="none",
            env_steps=16,
            n_envs=2,
            n_steps=8,
            batch_size=8,
            n_epochs=1,
            progress=False,
        )
    )
    assert rl.timesteps == 16
    assert json.loads((rl.policy_dir / "rlft_env.json").read_text())["env_id"] == "rlft-test/ToyShop-v0"


def test_a_resumed_writer_sorts_after_the_event_files_it_purges(tmp_path: Path) -> None:
    """TensorBoard reads event files in name order: within one second the per-process writer counter
    (``...<pid>.9`` vs ``...<pid>.10``) would put a resumed run's file, and its purge, first."""
    import os
    import time

    from rlft.agents.checkpoint import tensorboard_writer

    tb = tmp_path / "tb"
    first = tensorboard_writer(tb, 0)
    for step in range(1, 7):
        first.add_scalar("x", float(step), step)
    first.close()
    # The worst case: the old file is from this very second and its counter sorts after any new one.
    (old,) = tb.iterdir()
    parts = old.name.split(".")
    parts[3], parts[-1] = f"{int(time.time()):010d}", "999999999"
    os.replace(old, tb / ".".join(parts))
    again = tensorboard_writer(tb, 3)
    for step in range(4, 7):
        again.add_scalar("x", float(step), step)
    again.close()
    assert sorted(f.name for f in tb.iterdir())[0] == ".".join(parts)
    assert _scalar_steps(tb)["x"] == [1, 2, 3, 4, 5, 6]


def test_ppo_models_leave_no_sb3_folders_in_the_temp_dir(
    toy_demos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    from rlft.agents.algorithms import make_ppo
    from rlft.agents.policy_io import load_agent_policy
    from rlft.demos.envs import make_env

    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    bc = train_bc(_bc(toy_demos, tmp_path / "bc"))
    model = make_ppo(
        load_agent_policy(bc.policy_dir, progress=False), make_env("rlft-test/ToyShop-v0"), n_steps=8
    )
    model.learn(8)
    assert list(temp.iterdir()) == []
