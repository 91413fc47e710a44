"""Behaviour cloning: learning, validation metrics, checkpoints, resume, and typed errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from rlft.agents import BCConfig, load_agent_policy, train_bc
from rlft.agents.bc import split_episodes
from rlft.demos import collect_demos
from rlft.errors import CheckpointError, ConfigError, DatasetError, ModalityError


@pytest.fixture(scope="module")
def shop_demos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bc") / "demos"
    collect_demos("rlft/WebShop-v0", 4, out=out)
    return out


def _config(dataset: Path, out: Path, **kw: object) -> BCConfig:
    base: dict[str, object] = {
        "backbone": "tiny-bert",
        "steps": 12,
        "batch_size": 8,
        "eval_every": 6,
        "checkpoint_every": 6,
    }
    base.update(kw)
    return BCConfig(dataset=str(dataset), out_dir=str(out), **base)  # type: ignore[arg-type]


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()


def test_episode_split_holds_out_whole_episodes() -> None:
    train, val = split_episodes(10, 0.2, seed=0)
    assert len(val) == 2 and sorted(train + val) == list(range(10))
    assert split_episodes(10, 0.2, seed=0) == (train, val)
    assert split_episodes(1, 0.2, seed=0) == ([0], [])


def test_bc_fits_the_demonstrations_and_writes_a_run_folder(shop_demos: Path, tmp_path: Path) -> None:
    result = train_bc(
        _config(shop_demos, tmp_path / "run", steps=40, lr=3e-3, val_fraction=0.25, eval_every=20)
    )
    assert result.steps == 40 and result.resumed_from == 0
    assert 0.0 <= result.metrics["val_accuracy"] <= 1.0 and result.metrics["val_loss"] > 0
    run = tmp_path / "run"
    assert json.loads((run / "checkpoints" / "latest.json").read_text())["step"] == 40
    assert list((run / "tb").glob("events.out.tfevents.*"))
    assert json.loads((run / "bc_config.json").read_text())["backbone"] == "tiny-bert"
    # The training loss went down: the policy now prefers the expert's actions on its training data.
    from rlft.demos import load_demos

    policy = load_agent_policy(result.final_dir)
    transitions = load_demos(shop_demos).transitions()
    fresh = train_bc(_config(shop_demos, tmp_path / "fresh", steps=1)).final_dir
    import torch

    with torch.no_grad():
        trained_nll = -policy.evaluate_actions(*zip(*transitions, strict=True))[0].mean()
        fresh_nll = -load_agent_policy(fresh).evaluate_actions(*zip(*transitions, strict=True))[0].mean()
    assert float(trained_nll) < 0.8 * float(fresh_nll)


def test_rerunning_a_finished_run_resumes_instead_of_restarting(shop_demos: Path, tmp_path: Path) -> None:
    first = train_bc(_config(shop_demos, tmp_path / "run"))
    again = train_bc(_config(shop_demos, tmp_path / "run", steps=18))
    assert first.steps == 12 and again.resumed_from == 12 and again.steps == 18
    steps = sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("step_*"))
    assert steps == ["step_00000012", "step_00000018"]  # keep_checkpoints=2 pruned step 6


def test_resume_off_refuses_to_touch_existing_checkpoints(shop_demos: Path, tmp_path: Path) -> None:
    train_bc(_config(shop_demos, tmp_path / "run", steps=6))
    before = _digest(tmp_path / "run" / "checkpoints")
    with pytest.raises(ConfigError, match="resume"):
        train_bc(_config(shop_demos, tmp_path / "run", steps=12, resume=False))
    assert _digest(tmp_path / "run" / "checkpoints") == before


def test_corrupt_checkpoint_fails_fast_and_is_left_alone(shop_demos: Path, tmp_path: Path) -> None:
    train_bc(_config(shop_demos, tmp_path / "run", steps=6))
    weights = next((tmp_path / "run" / "checkpoints").rglob("*.safetensors"))
    weights.write_bytes(b"garbage")
    before = _digest(tmp_path / "run")
    with pytest.raises(CheckpointError, match=r"corrupt|Cannot load"):
        train_bc(_config(shop_demos, tmp_path / "run", steps=12))
    assert _digest(tmp_path / "run") == before
    (tmp_path / "run" / "checkpoints" / "latest.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="damaged"):
        train_bc(_config(shop_demos, tmp_path / "run", steps=12))


def test_bad_inputs_raise_typed_errors(shop_demos: Path, tmp_path: Path, toy_reach: str) -> None:
    with pytest.raises(DatasetError):
        train_bc(_config(tmp_path / "nowhere", tmp_path / "run"))
    with pytest.raises(ConfigError, match="steps"):
        train_bc(_config(shop_demos, tmp_path / "run", steps=0))
    image_demos = collect_demos(toy_reach, 2, out=tmp_path / "images").path
    with pytest.raises(ModalityError, match="images"):
        train_bc(_config(image_demos, tmp_path / "run2"))
    assert not (tmp_path / "run2" / "checkpoints").exists()


def test_a_checkpoint_clears_the_temporary_folders_a_killed_run_left(tmp_path: Path) -> None:
    from rlft.agents.checkpoint import save_checkpoint

    class Folder:
        def save(self, folder: Path) -> None:
            folder.mkdir(parents=True)

    half_written = tmp_path / "checkpoints" / ".step_00000004.tmp-k1ll3d"
    half_written.mkdir(parents=True)
    (tmp_path / "best").mkdir()
    stale_best = tmp_path / ".best.old-123"
    stale_best.mkdir()
    only_copy = tmp_path / ".policy.tmp-abc"  # killed between the renames: no policy/ to replace it
    only_copy.mkdir()
    save_checkpoint(tmp_path, 4, Folder(), None, {})
    assert (tmp_path / "checkpoints" / "step_00000004" / "state.json").is_file()
    assert not half_written.exists() and not stale_best.exists()
    assert only_copy.is_dir()
