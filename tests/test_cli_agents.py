"""End-to-end runs of every `rlft` agents command on tiny budgets, and kill-then-resume of training."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rlft.cli import main

SHOP = "rlft/WebShop-v0"


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "rlft.cli", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "demos"
    assert main(["collect", SHOP, "--episodes", "3", "--out", str(out), "--no-progress"]) == 0
    return out


def test_collect_train_eval_end_to_end(
    demos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bc_args = [
        "train",
        "bc",
        "--dataset",
        str(demos),
        "--out",
        str(tmp_path / "bc"),
        "--backbone",
        "tiny-bert",
    ]
    assert main([*bc_args, "--steps", "4", "--eval-every", "2", "--no-progress"]) == 0
    assert "BC: 4 steps" in capsys.readouterr().out
    rl_args = ["train", "rl", SHOP, "--policy", str(tmp_path / "bc" / "best"), "--out", str(tmp_path / "rl")]
    rl_args += ["--anchor-dataset", str(demos), "--env-steps", "16", "--n-envs", "2", "--n-steps", "8"]
    assert main([*rl_args, "--batch-size", "8", "--n-epochs", "1", "--no-progress"]) == 0
    assert "RL: 16 env steps" in capsys.readouterr().out
    report = tmp_path / "eval" / "report.json"
    eval_args = [
        "eval",
        SHOP,
        "--policy",
        str(tmp_path / "rl" / "policy"),
        "--split",
        "test",
        "--episodes",
        "2",
    ]
    assert (
        main(
            [
                *eval_args,
                "--max-steps",
                "5",
                "--out",
                str(tmp_path / "eval"),
                "--no-progress",
            ]
        )
        == 0
    )
    saved = json.loads(report.read_text())
    assert saved["results"][0]["split"] == "test" and saved["results"][0]["episodes"] == 2
    assert all(length <= 5 for length in saved["results"][0]["lengths"])
    assert list((tmp_path / "eval" / "episodes").glob("*.md"))
    assert main(["eval", SHOP, "--agent", "expert", "--episodes", "2", "--no-progress"]) == 0
    assert "100.0%" in capsys.readouterr().out


def test_errors_exit_2_with_a_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["collect", "rlft/WebShp-v0", "--episodes", "1", "--out", str(tmp_path / "x")]) == 2
    assert "Did you mean 'rlft/WebShop-v0'" in capsys.readouterr().err
    assert main(["train", "bc", "--dataset", str(tmp_path / "none"), "--out", str(tmp_path / "bc")]) == 2
    assert "rlft collect" in capsys.readouterr().err
    assert main(["eval", SHOP, "--policy", str(tmp_path / "none")]) == 2
    assert "No policy checkpoint" in capsys.readouterr().err
    assert main(["train", "bc", "--dataset", "d", "--out", "o", "--policy-kwarg", "nokey"]) == 2
    table = "rlft/TabletopPutBlockInBowl-v0"
    assert main(["collect", table, "--env-kwarg", "heightmp=true", "--out", str(tmp_path / "t")]) == 2
    assert "Did you mean 'heightmap'" in capsys.readouterr().err
    assert main(["collect", table, "--env-kwarg", "heightmap=maybe", "--out", str(tmp_path / "t")]) == 2
    assert "heightmap=true or heightmap=false" in capsys.readouterr().err
    assert main(["eval", table, "--agent", "expert", "--backend", "chromium", "--split", "test"]) == 2
    assert "no kwarg 'backend'" in capsys.readouterr().err
    assert main(["eval", SHOP, "--agent", "expert", "--backend", "text", "--episodes", "1"]) == 0
    assert main(["eval", SHOP, "--agent", "expert", "--policy", "p"]) == 2
    assert "not both" in capsys.readouterr().err


def _tiny_bc(demos: Path, out: Path, steps: int) -> Path:
    """Train a tiny-bert BC run in-process (the starting policy of the RL tests); return its folder."""
    args = ["train", "bc", "--dataset", str(demos), "--out", str(out), "--backbone", "tiny-bert"]
    assert main([*args, "--steps", str(steps), "--no-progress"]) == 0
    return out


def _wait_for_checkpoint(run: Path, proc: subprocess.Popen, minimum: int, timeout: float = 120) -> int:
    """Wait until ``proc`` (a run with a budget it cannot reach meanwhile) checkpoints step ``minimum``."""
    pointer = run / "checkpoints" / "latest.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pointer.exists():
            step = json.loads(pointer.read_text())["step"]
            if step >= minimum:
                return step
        assert proc.poll() is None, "training ended before it could be interrupted"
        time.sleep(0.05)
    raise AssertionError("no checkpoint appeared")


def _kill_mid_run(args: list[str], run: Path, minimum: int, budget: int, timeout: float = 120) -> int:
    """Start ``args``, SIGKILL it once its latest checkpoint reaches ``minimum``; return that step.

    The run may finish between the poll that saw the checkpoint and the kill (a starved test process on a
    loaded machine): then it starts over in a fresh folder, at most three times, so the caller always
    resumes a run that was really cut short.
    """
    pointer = run / "checkpoints" / "latest.json"
    for _ in range(3):
        shutil.rmtree(run, ignore_errors=True)
        proc = subprocess.Popen(args, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            _wait_for_checkpoint(run, proc, minimum, timeout)
        except AssertionError:
            if proc.poll() is None:  # no checkpoint in time: a real failure, not a lost race
                proc.kill()
                proc.wait()
                raise
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        step = json.loads(pointer.read_text())["step"] if pointer.exists() else 0
        if minimum <= step < budget:
            return step
    raise AssertionError(f"the run finished before it could be killed, three times (last checkpoint {step})")


def test_bc_killed_mid_run_resumes_from_its_last_checkpoint(demos: Path, tmp_path: Path) -> None:
    run = tmp_path / "bc"
    args = _cli(
        "train",
        "bc",
        "--dataset",
        str(demos),
        "--out",
        str(run),
        "--backbone",
        "tiny-bert",
        "--steps",
        "40",
        "--checkpoint-every",
        "4",
        "--eval-every",
        "20",
        "--no-progress",
    )
    killed_at = _kill_mid_run(args, run, 8, 40)
    done = subprocess.run(args, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    resumed_from = int(done.stdout.split("resumed from ")[1].split(")")[0])
    assert resumed_from == killed_at  # the last checkpoint written before the kill
    state = json.loads((run / "checkpoints" / "step_00000040" / "state.json").read_text())
    assert state["step"] == 40 and 0.0 <= state["metrics"]["val_accuracy"] <= 1.0
    assert not list(run.rglob(".*tmp-*"))  # no half-written checkpoint left behind


def test_rl_killed_mid_run_resumes_from_its_last_checkpoint(demos: Path, tmp_path: Path) -> None:
    bc = _tiny_bc(demos, tmp_path / "bc", steps=2)
    run = tmp_path / "rl"
    args = _cli(
        "train",
        "rl",
        SHOP,
        "--policy",
        str(bc / "best"),
        "--out",
        str(run),
        "--anchor",
        "kl",
        "--env-steps",
        "128",
        "--n-envs",
        "2",
        "--n-steps",
        "8",
        "--batch-size",
        "16",
        "--n-epochs",
        "1",
        "--checkpoint-every",
        "16",
        "--no-progress",
    )
    killed_at = _kill_mid_run(args, run, 32, 128)
    done = subprocess.run(args, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    resumed_from = int(done.stdout.split("resumed from ")[1].split(")")[0])
    assert resumed_from == killed_at  # the last checkpoint written before the kill
    assert "RL: 128 env steps" in done.stdout


@pytest.mark.parametrize(
    ("suite", "backbone"),
    [
        ("web", "tiny-bert"),
        ("tabletop", "tiny-clip"),
        pytest.param("miniwob", "tiny-bert", marks=pytest.mark.chromium),
    ],
)
def test_demo_quick_runs_every_stage(
    suite: str,
    backbone: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # a relative --out, as users type it
    args = ["demo", "--suite", suite, "--quick", "--backbone", backbone, "--out", "demo", "--no-progress"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"rlft demo --suite {suite}:" in out
    for row in ("random", "BC", "BC+RL", "expert"):
        assert f"\n{row} " in out
    if suite == "web":  # the web suite also reports greedy BC and BC+RL on the same goals
        assert {"BC greedy", "BC+RL greedy"} <= set(
            json.loads((tmp_path / "demo" / "demo_report.json").read_text())["rows"]
        )
    report = json.loads((tmp_path / "demo" / "demo_report.json").read_text())
    assert report["quick"] is True and report["rows"]["expert"]["success_rate"] == 1.0
    assert set(report["seconds"]) == {"collect", "bc", "rl", "eval", "total"}
    assert report["rl"]["env_steps"] > 0 and report["rl"]["env_steps_per_s"] > 0
    assert "env steps/s" in out
    prov = report["provenance"]
    assert prov["sampled"] is True and prov["rlft_version"] and prov["timestamp"]
    assert prov["policies"]["BC"].endswith("best") and "git_commit" in prov
    assert report["rows"]["BC"]["success_rate"] >= 0 and report["rows"]["BC+RL"]["success_rate"] >= 0


def test_sigint_checkpoints_and_exits_130_without_a_traceback(demos: Path, tmp_path: Path) -> None:
    run = tmp_path / "bc"
    args = _cli(
        "train", "bc", "--dataset", str(demos), "--out", str(run), "--backbone", "tiny-bert",
        "--steps", "100000", "--checkpoint-every", "2", "--eval-every", "100000", "--no-progress",
    )  # fmt: skip
    proc = subprocess.Popen(args, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_checkpoint(run, proc, 2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    step = int(err.split("interrupted at step ")[1].split(";")[0])
    assert "run the same command to resume" in err
    assert json.loads((run / "checkpoints" / "latest.json").read_text())["step"] == step
    args[args.index("100000")] = str(step + 1)
    done = subprocess.run(args, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and f"resumed from {step})" in done.stdout, done.stderr


def test_help_shows_defaults_one_name_per_idea_and_no_markup(capsys: pytest.CaptureFixture[str]) -> None:
    from rlft.cli import build_parser

    for command in (["collect"], ["train", "bc"], ["train", "rl"], ["eval"], ["demo"]):
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        text = capsys.readouterr().out
        for flag in ("--device", "--precision", "--seed", "--progress, --no-progress", "--out"):
            assert flag in text, (command, flag)
        assert "``" not in text and ":class:" not in text and ":func:" not in text
        assert "--init" not in text and "--timesteps" not in text
        options = [line for line in text.splitlines() if line.startswith("  --")]
        assert "(default: auto)" in text and "(default: fp32)" in text
        if command not in (["train", "bc"], ["demo"]):
            for flag in ("--env-kwarg", "--backend", "--split", "--max-steps"):
                assert flag in text, (command, flag)
        assert options
    args = build_parser().parse_args(["eval", SHOP, "--agent", "expert", "-vv"])
    assert args.verbose == 2 and args.progress is None


@pytest.mark.parametrize(
    ("flags", "sample"),
    [([], False), (["--sample"], True), (["--greedy"], False), (["--sample", "--greedy"], False)],
)
def test_eval_and_collect_take_sample_or_greedy(flags: list[str], sample: bool) -> None:
    from rlft.cli import build_parser

    for command in (["eval", SHOP], ["collect", SHOP]):
        args = build_parser().parse_args([*command, "--policy", "p", *flags])
        assert args.sample is sample, (command, flags)


def test_device_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["eval", SHOP, "--agent", "expert", "--episodes", "1", "--device", "cuda"]) == 2
    assert "torch sees no GPU" in capsys.readouterr().err
    assert main(["eval", SHOP, "--agent", "expert", "--episodes", "1", "--device", "gpu"]) == 2


def test_eval_reports_carry_provenance_and_the_sampling_flag(demos: Path, tmp_path: Path) -> None:
    bc = ["train", "bc", "--dataset", str(demos), "--out", str(tmp_path / "bc"), "--backbone", "tiny-bert"]
    assert main([*bc, "--steps", "2", "--no-progress"]) == 0
    policy = tmp_path / "bc" / "best"
    # No env id: the policy records the one it was trained on.
    args = ["eval", "--policy", str(policy), "--episodes", "2", "--max-steps", "3", "--seed", "5", "--sample"]
    assert main([*args, "--out", str(tmp_path / "ev"), "--record-episodes", "0"]) == 0
    report = json.loads((tmp_path / "ev" / "report.json").read_text())
    prov = report["provenance"]
    assert prov["policy"] == str(policy.resolve()) and prov["sampled"] is True
    assert prov["env_kwargs"] == {SHOP: {}} and prov["max_steps"] == 3 and prov["seed"] == 5
    assert prov["episode_seeds"] == [[5, 6]] and prov["rlft_version"]
    assert "T" in prov["timestamp"] and "git_commit" in prov
    assert report["results"][0]["env_id"] == SHOP and report["results"][0]["split"] == "test"
    # collect with the policy: a -policy dataset that keeps failures.
    out = tmp_path / "pd"
    assert (
        main(
            [
                "collect",
                SHOP,
                "--policy",
                str(policy),
                "--episodes",
                "1",
                "--max-steps",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    from rlft.demos import load_demos

    assert load_demos(out).collect_stats["source"] == "policy"
    assert (
        main(
            [
                "collect",
                SHOP,
                "--agent",
                "random",
                "--episodes",
                "1",
                "--max-steps",
                "2",
                "--out",
                str(tmp_path / "r"),
            ]
        )
        == 0
    )


@pytest.mark.integration
def test_tabletop_policy_evaluates_without_repeating_its_view(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = "rlft/TabletopPutBlockInBowl-v0"
    demos = tmp_path / "td"
    assert (
        main(["collect", table, "--episodes", "2", "--env-kwarg", "heightmap=true", "--out", str(demos)]) == 0
    )
    bc = ["train", "bc", "--dataset", str(demos), "--out", str(tmp_path / "bc"), "--backbone", "tiny-clip"]
    assert main([*bc, "--steps", "1", "--no-progress"]) == 0
    policy = str(tmp_path / "bc" / "best")
    capsys.readouterr()
    # The heightmap view comes from the policy's record: no --env-kwarg needed.
    ev = [
        "eval",
        table,
        "--policy",
        policy,
        "--episodes",
        "1",
        "--split",
        "test",
        "--out",
        str(tmp_path / "e"),
    ]
    assert main(ev) == 0, capsys.readouterr().err
    assert list((tmp_path / "e" / "episodes").glob("*.gif"))
    # Overriding the view away from what the policy reads is a typed error, not a KeyError.
    assert main([*ev, "--env-kwarg", "heightmap=false"]) == 2
    assert "heightmap" in capsys.readouterr().err
    # A tabletop policy on a web env (and the reverse) is a typed error too.
    assert main(["eval", SHOP, "--policy", policy, "--episodes", "1"]) == 2
    assert "trained for tabletop environments, not web" in capsys.readouterr().err


def test_sigterm_during_rl_checkpoints_and_exits_130(demos: Path, tmp_path: Path) -> None:
    bc = _tiny_bc(demos, tmp_path / "bc", steps=1)
    run = tmp_path / "rl"
    args = _cli(
        "train", "rl", "--policy", str(bc / "best"), "--out", str(run), "--anchor", "none",
        "--env-steps", "1000000", "--n-envs", "2", "--n-steps", "8", "--batch-size", "16", "--n-epochs", "1",
        "--checkpoint-every", "16", "--no-progress",
    )  # fmt: skip
    proc = subprocess.Popen(args, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_checkpoint(run, proc, 16)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err
    step = int(err.split("interrupted at step ")[1].split(";")[0])
    assert step >= 16 and json.loads((run / "checkpoints" / "latest.json").read_text())["step"] == step
