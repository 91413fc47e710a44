"""``rlft demo --suite tabletop-all``: one multi-task policy over every tabletop task family.

CLIPort's multi-task recipe: expert demonstrations of every family (train colours and shapes) go into one
behaviour-cloning run (the datasets are mixed, :func:`rlft.agents.bc.load_datasets`); the policy conditions
on the instruction, and on the step index (``step_observation=True``) where the image does not show how far
a multi-step episode has come. It is evaluated on every family on the ``train`` split (seen colours, new
seeds) and on the ``test`` split (held-out colours and shapes), in one table with 95% Wilson intervals and
the mean over the families. Finished stages are reused when the command runs again, as in ``rlft demo``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any, Protocol

from rlft.agents.bc import BCConfig, train_bc
from rlft.agents.config import RunConfig, provenance
from rlft.agents.demo_stages import reuse_or_collect
from rlft.agents.evaluate import PolicyAgent, TaskResult, evaluate_agent
from rlft.agents.policy_io import load_agent_policy

__all__ = ["MultiTaskResult", "MultiTaskSuite", "run_multitask_demo"]

logger = logging.getLogger(__name__)

EVAL_SEED = 100_000
"""First evaluation seed (demonstrations use seeds from the run's seed up: never the same episodes)."""


@dataclass
class MultiTaskResult:
    """One row per env id: success on each evaluated split; plus stage timings."""

    suite: str
    rows: dict[str, dict[str, TaskResult]]
    """env id -> split -> result."""
    splits: tuple[str, ...]
    seconds: dict[str, float]
    report_path: Path
    protocol: str

    def mean_success(self, split: str, env_ids: tuple[str, ...] | None = None) -> float:
        """Mean success over the families (or those of ``env_ids``) on ``split``."""
        rows = [r for env_id, r in self.rows.items() if env_ids is None or env_id in env_ids]
        return sum(r[split].success_rate for r in rows) / max(len(rows), 1)

    def subsets(self) -> dict[str, tuple[str, ...] | None]:
        """Row groups the table averages over: every task, and each group of several of them (forms)."""
        from rlft.agents.policy_io import ENV_GROUPS, env_group

        out: dict[str, tuple[str, ...] | None] = {"mean over tasks": None}
        for group in ENV_GROUPS:
            if group == "trained":
                continue
            ids = tuple(i for i in env_group(group) if i in self.rows)
            if 1 < len(ids) < len(self.rows):
                out[f"mean over {group}"] = ids
        return out

    def table(self) -> str:
        """The per-task table (success and 95% CI on each split) and the means."""
        episodes = next(iter(next(iter(self.rows.values())).values())).episodes
        head = f"{'task':<26}" + "".join(f" {s + ' success':>15}  {'[95% CI]':<13}" for s in self.splits)
        lines = [
            f"rlft demo --suite {self.suite}: one policy, {len(self.rows)} tasks, {episodes} episodes "
            f"per task and split, {self.protocol}",
            head,
        ]
        for env_id, by_split in self.rows.items():
            name = env_id.removeprefix("rlft/Tabletop").removeprefix("rlft/").removesuffix("-v0")
            cells = "".join(
                f" {by_split[s].success_rate:>15.1%}  [{by_split[s].success_ci[0]:.2f}, "
                f"{by_split[s].success_ci[1]:.2f}]"
                for s in self.splits
            )
            lines.append(f"{name:<26}{cells}")
        for label, ids in self.subsets().items():
            means = "".join(f" {self.mean_success(s, ids):>15.1%}  {'':<13}" for s in self.splits)
            lines.append(f"{label:<26}{means}")
        timing = ", ".join(f"{k} {v:.0f}s" for k, v in self.seconds.items())
        lines.append(f"time: {timing}")
        return "\n".join(lines)


def dataset_dir(out: Path, env_id: str) -> Path:
    """Where the suite keeps ``env_id``'s demonstrations."""
    return out / "demos" / env_id.removeprefix("rlft/").replace("/", "_")


class MultiTaskSuite(Protocol):
    """What the pipeline reads of a suite (``rlft.agents.demo.DemoSuite`` with ``env_ids``)."""

    @property
    def name(self) -> str: ...  # noqa: D102
    @property
    def env_ids(self) -> tuple[str, ...]: ...  # noqa: D102
    @property
    def backbone(self) -> str: ...  # noqa: D102
    @property
    def train_split(self) -> str: ...  # noqa: D102
    @property
    def test_split(self) -> str: ...  # noqa: D102
    @property
    def demo_episodes(self) -> int: ...  # noqa: D102
    @property
    def eval_episodes(self) -> int: ...  # noqa: D102
    @property
    def bc(self) -> dict[str, Any]: ...  # noqa: D102
    @property
    def env_kwargs(self) -> dict[str, Any]: ...  # noqa: D102
    @property
    def sample_actions(self) -> bool: ...  # noqa: D102
    @property
    def eval_max_steps(self) -> int | None: ...  # noqa: D102
    @property
    def eval_splits(self) -> tuple[str, ...]: ...  # noqa: D102


def run_multitask_demo(
    suite: MultiTaskSuite,
    out_dir: str | Path,
    *,
    quick: bool = False,
    progress: bool = False,
    run: RunConfig | None = None,
) -> MultiTaskResult:
    """Collect every family of ``suite.env_ids``, BC one policy on all of them, evaluate it per family.

    Args:
        suite: a suite with ``env_ids`` (``tabletop-all`` or ``web-all`` of
            :data:`rlft.agents.demo.DEMO_SUITES`), its budgets already final (``rlft demo --quick`` shrinks
            them before calling this).
        out_dir: working folder; re-running reuses finished stages.
        quick: whether the budgets are the quick ones (recorded in the report).
        progress: show progress bars.
        run: seed, device, precision and threads of every stage.
    """
    run = run or RunConfig()
    out = Path(out_dir)
    seconds: dict[str, float] = {}

    t = time.perf_counter()
    folders = [dataset_dir(out, env_id) for env_id in suite.env_ids]
    for env_id, folder in zip(suite.env_ids, folders, strict=True):
        reuse_or_collect(
            env_id,
            suite.demo_episodes,
            folder,
            split=suite.train_split,
            seed=run.seed,
            env_kwargs=dict(suite.env_kwargs),
            progress=progress,
        )
    seconds["collect"] = time.perf_counter() - t

    t = time.perf_counter()
    bc = train_bc(
        BCConfig(
            dataset=",".join(map(str, folders)),
            out_dir=str(out / "bc"),
            backbone=suite.backbone,
            progress=progress,
            **run.run_fields(),
            **suite.bc,
        )
    )
    seconds["bc"] = time.perf_counter() - t

    t = time.perf_counter()
    device = run.torch_device()
    agent = PolicyAgent(
        load_agent_policy(bc.policy_dir, device=device, progress=run.show_progress),
        "multitask_bc",
        not suite.sample_actions,
        run.precision,
    )
    splits = suite.eval_splits or (suite.train_split, suite.test_split)
    rows = {
        env_id: {
            split: evaluate_agent(
                agent,
                env_id,
                split=split,
                episodes=suite.eval_episodes,
                seed=EVAL_SEED,
                max_steps=suite.eval_max_steps,
                env_kwargs=dict(suite.env_kwargs),
                record_dir=out / "episodes" / split,
                record_episodes=1,
                progress=progress,
            )
            for split in splits
        }
        for env_id in suite.env_ids
    }
    seconds["eval"] = time.perf_counter() - t
    seconds["total"] = sum(seconds.values())
    protocol = "policy samples its actions" if suite.sample_actions else "greedy policy"
    report_path = out / "demo_report.json"
    result = MultiTaskResult(suite.name, rows, splits, seconds, report_path, protocol)
    report_path.write_text(
        json.dumps(
            {
                "suite": asdict(suite) if is_dataclass(suite) and not isinstance(suite, type) else {},
                "quick": quick,
                "seconds": seconds,
                "mean_success": {s: result.mean_success(s) for s in splits},
                "mean_success_by_group": {
                    label: {s: result.mean_success(s, ids) for s in splits}
                    for label, ids in result.subsets().items()
                    if ids is not None
                },
                "rows": {env_id: {s: asdict(r) for s, r in by.items()} for env_id, by in rows.items()},
                "provenance": provenance(
                    policy=str(bc.policy_dir.resolve()),
                    bc_metrics=bc.metrics,
                    sampled=suite.sample_actions,
                    env_kwargs=dict(suite.env_kwargs),
                    seed=run.seed,
                    eval_seed=EVAL_SEED,
                    device=str(device),
                    precision=run.precision,
                ),
            },
            indent=2,
        )
    )
    return result
