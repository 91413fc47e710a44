"""RL fine-tuning: PPO / MaskablePPO from a BC policy, the BC anchors, checkpoints and resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from rlft.agents import BCConfig, RLConfig, load_agent_policy, train_bc, train_rl
from rlft.agents.anchor import AnchorHook
from rlft.demos import collect_demos
from rlft.errors import CheckpointError, ConfigError, UnknownEnvError


@pytest.fixture(scope="module")
def bc_run(tmp_path_factory: pytest.TempPathFactory, toy_shop: str) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("rl")
    demos = collect_demos(toy_shop, 6, out=root / "demos").path
    bc = train_bc(
        BCConfig(dataset=str(demos), out_dir=str(root / "bc"), backbone="tiny-bert", steps=10, lr=3e-3)
    )
    return demos, bc.policy_dir


def _config(env_id: str, bc_run: tuple[Path, Path], out: Path, **kw: object) -> RLConfig:
    demos, policy = bc_run
    base: dict[str, object] = {
        "env_steps": 32,
        "n_envs": 2,
        "n_steps": 8,
        "batch_size": 8,
        "n_epochs": 1,
        "checkpoint_every": 16,
        "anchor_dataset": str(demos),
    }
    base.update(kw)
    return RLConfig(env_id=env_id, policy=str(policy), out_dir=str(out), **base)  # type: ignore[arg-type]


def test_anchor_hook_adds_the_weighted_anchor_gradient() -> None:
    torch.manual_seed(0)
    layer = torch.nn.Linear(3, 1)
    x = torch.randn(5, 3)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.0)  # lr 0: inspect gradients only

    def anchor(obs: list, actions: list) -> torch.Tensor:
        return (layer(x) ** 2).mean()

    hook = AnchorHook("bc", 0.5, list(layer.parameters()), max_grad_norm=1e9, bc_loss=anchor, demos=[(0, 0)])
    optimizer.register_step_pre_hook(hook)
    ppo_loss = layer(x).sum()
    optimizer.zero_grad()
    ppo_loss.backward()
    ppo_grad = layer.weight.grad.clone()
    anchor_grad = torch.autograd.grad(0.5 * (layer(x) ** 2).mean(), layer.weight)[0]
    optimizer.step()
    torch.testing.assert_close(layer.weight.grad, ppo_grad + anchor_grad)
    assert hook.calls == 1 and hook.last_loss > 0


@pytest.mark.parametrize("anchor", ["bc", "kl", "none"])
def test_rl_fine_tunes_the_bc_policy(
    anchor: str, toy_shop: str, bc_run: tuple[Path, Path], tmp_path: Path
) -> None:
    before = load_agent_policy(bc_run[1])
    result = train_rl(_config(toy_shop, bc_run, tmp_path / "rl", anchor=anchor, lr=1e-2))
    assert result.timesteps == 32 and result.resumed_from == 0
    after = load_agent_policy(result.policy_dir)
    changed = any(
        not torch.equal(a, b)
        for a, b in zip(before.head.state_dict().values(), after.head.state_dict().values(), strict=True)
    )
    assert changed
    if anchor != "none":
        assert result.metrics["anchor_loss"] >= 0.0
    latest = json.loads((tmp_path / "rl" / "checkpoints" / "latest.json").read_text())
    assert latest["step"] == 32
    assert list((tmp_path / "rl" / "tb").rglob("events.out.tfevents.*"))


def test_rl_resumes_and_continues_the_timestep_count(
    toy_shop: str, bc_run: tuple[Path, Path], tmp_path: Path
) -> None:
    first = train_rl(_config(toy_shop, bc_run, tmp_path / "rl"))
    weights = {k: v.clone() for k, v in load_agent_policy(first.policy_dir).state_dict().items()}
    # The same run again (a driver killed after the last checkpoint): it resumes at its budget, takes no
    # step and writes the same policy.
    same = train_rl(_config(toy_shop, bc_run, tmp_path / "rl"))
    assert same.resumed_from == 32 and same.timesteps == 32
    rewritten = load_agent_policy(same.policy_dir).state_dict()
    assert rewritten.keys() == weights.keys() and all(torch.equal(rewritten[k], weights[k]) for k in weights)
    again = train_rl(_config(toy_shop, bc_run, tmp_path / "rl", env_steps=64))
    assert again.resumed_from == 32 and again.timesteps == 64
    with pytest.raises(ConfigError, match="resume"):
        train_rl(_config(toy_shop, bc_run, tmp_path / "rl", env_steps=96, resume=False))


def test_rl_bad_inputs(toy_shop: str, bc_run: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(UnknownEnvError, match="Did you mean"):
        train_rl(_config("rlft/WebShopp-v0", bc_run, tmp_path / "a"))
    with pytest.raises(CheckpointError, match="No policy checkpoint"):
        train_rl(_config(toy_shop, (bc_run[0], tmp_path / "missing"), tmp_path / "b"))
    with pytest.raises(ConfigError, match="anchor_dataset"):
        train_rl(_config(toy_shop, bc_run, tmp_path / "c", anchor_dataset=None))
    with pytest.raises(ConfigError, match="maskable_ppo"):
        train_rl(_config(toy_shop, bc_run, tmp_path / "d", algorithm="maskable"))


def test_rl_from_a_learned_reward_logs_the_true_score_beside_it(
    toy_shop: str, bc_run: tuple[Path, Path], tmp_path: Path
) -> None:
    from rlft.policies.reward import RewardModel, RewardModelConfig

    rm = RewardModel(RewardModelConfig(backbone="tiny-bert", head_hidden=8))
    rm.save_pretrained(tmp_path / "rm", metrics={"score_mean": 0.0, "score_std": 1.0})
    result = train_rl(_config(toy_shop, bc_run, tmp_path / "rl", reward_model=str(tmp_path / "rm")))
    report = json.loads((tmp_path / "rl" / "rl_result.json").read_text())
    assert report["reward"] == "reward_model" and report["history"] == result.history
    entries = [h for h in result.history if "rm_score" in h]
    assert entries and all("true_score" in h and 0.0 <= h["true_score"] <= 1.0 for h in entries)
    # The policy optimised the reward model's score: Monitor's returns are those scores, not the env's.
    assert all(h["return"] == pytest.approx(h["rm_score"], abs=1e-5) for h in entries)  # Monitor rounds
    assert {"rollout_true_score", "rollout_rm_score"} <= set(result.metrics)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (events,) = (tmp_path / "rl" / "tb").rglob("events.out.tfevents.*")
    tags = EventAccumulator(str(events)).Reload().Tags()["scalars"]
    assert {"rollout/true_score", "rollout/rm_score"} <= set(tags)
