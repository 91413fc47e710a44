"""``rlft demo``: the whole recipe in one command, and the table it prints.

Pretrained backbone -> expert demonstrations (train goals) -> behaviour cloning -> PPO fine-tuning with a
BC anchor -> evaluation on held-out test goals, next to the random and expert baselines, all facing the
same test seeds. Every stage writes into ``out_dir`` and is skipped or resumed when the command runs
again (a finished dataset is reused; BC and RL continue from their checkpoints), so an interrupted demo
costs only the unfinished stage.

The budgets in :data:`DEMO_SUITES` were tuned on a shared 2-core CPU machine so the web suite fits in 15
minutes with the embedded MiniLM backbone: BC sees few demonstrations (so it is imperfect) and RL then
fixes part of the remaining mistakes on train goals, which transfers to test goals. The tabletop suite
reads the top-down colormap + heightmap (``heightmap=True``), whose pixels line up with the pick/place
grid, and records 1,000 one-step demonstrations (about 35 s) so BC can ground colour words in the image;
its episodes are cheap, so it evaluates 200 of them per agent. The ``tabletop-all`` suite trains one
multi-task BC policy over the 11 tabletop families instead (:mod:`rlft.agents.multitask`), with the step
index observed, and tables its success per family on train and test colours.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlft.agents.bc import BCConfig, BCResult, train_bc
from rlft.agents.config import RunConfig, provenance
from rlft.agents.demo_stages import reuse_or_collect
from rlft.agents.evaluate import Agent, ExpertAgent, PolicyAgent, RandomAgent, TaskResult, evaluate_agent
from rlft.agents.policy_io import env_group, load_agent_policy
from rlft.agents.rl import RLConfig, RLResult, train_rl
from rlft.agents.rm import json_safe
from rlft.errors import UnknownNameError, atomic_write_text, unknown_name_message

if TYPE_CHECKING:
    from rlft.agents.multitask import MultiTaskResult

__all__ = [
    "DEMO_SUITES",
    "DemoConfig",
    "DemoResult",
    "DemoSuite",
    "run_demo",
    "run_demo_config",
    "run_feedback_demo",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoSuite:
    """Everything one ``rlft demo --suite`` run does, with its budgets."""

    name: str
    """Suite name (``web`` / ``tabletop``)."""
    env_id: str
    """Environment id."""
    backbone: str
    """Backbone spec of the policy."""
    train_split: str
    """Goals for demonstrations, BC and RL."""
    test_split: str
    """Held-out goals for the table (``test``; for tabletop: unseen colours and shapes)."""
    demo_episodes: int
    """Expert episodes to record."""
    eval_episodes: int
    """Test episodes per agent."""
    bc: dict[str, Any] = field(default_factory=dict)
    """:class:`BCConfig` overrides."""
    rl: dict[str, Any] = field(default_factory=dict)
    """:class:`RLConfig` overrides."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra ``gym.make`` kwargs for every stage."""
    rl_env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra ``gym.make`` kwargs for RL only (e.g. a shorter time limit: more episodes per step budget)."""
    sample_actions: bool = True
    """Evaluate policies by sampling their actions (seeded per episode), as PPO trains them; ``False``
    evaluates greedily (argmax), where a memoryless policy can loop on a repeated page."""
    eval_max_steps: int | None = None
    """Cap on steps per evaluation episode (``None``: the environment's own limit)."""
    other_protocol_rows: bool = False
    """Also evaluate BC and BC+RL the other way (greedy when the suite samples, sampled when it is
    greedy), as extra rows ``BC greedy`` / ``BC+RL greedy`` (or ``sampled``) on the same goals."""
    env_ids: tuple[str, ...] = ()
    """Several environments: one multi-task BC policy over all of them, a row per id and split
    (:mod:`rlft.agents.multitask`); ``env_id`` is then the first of them."""
    eval_splits: tuple[str, ...] = ()
    """Splits the multi-task pipeline evaluates on (empty: ``train_split`` and ``test_split``)."""

    feedback: dict[str, Any] = field(default_factory=dict)
    """Learning from feedback (the ``feedback`` suite, :mod:`rlft.agents.feedback`): ``pairs`` of sampled
    BC episodes rated by the oracle (``rater_temperature``, ``tie_margin``), ``rm`` (:class:`RMConfig`
    overrides) and ``best_of`` (the largest N of the search). Empty for the plain recipe."""


WEB_SUITE = DemoSuite(
    name="web",
    env_id="rlft/WebShop-v0",
    backbone="minilm",
    train_split="train",
    test_split="test",
    # Expert demonstrations cost seconds, so BC gets as many as its stage can use: with 30 demos and
    # 150 steps BC scored 0.47; with 300 and 600 steps it reaches 0.58 validation step accuracy.
    demo_episodes=300,
    eval_episodes=50,
    # Web policies default to LoRA (finetune="auto"), which BC-trains ~16x slower per step than a
    # frozen backbone with cached encodings on a 2-core CPU: the 15-minute budget keeps it frozen. The
    # cross-attention scorer lets each candidate token read the instruction and history (a pooled
    # observation vector cannot tell which of the page's colours was asked for); with a frozen backbone
    # its token states are cached, so BC epochs after the first cost only the head.
    bc={
        "steps": 600,
        "batch_size": 32,
        "lr": 1e-3,
        "eval_every": 200,
        "checkpoint_every": 200,
        "finetune": "frozen",
        "policy_kwargs": {"scorer": "cross_attention"},
    },
    # RL fine-tunes a BC policy that already succeeds ~75% of the time: 4,096 steps at lr 1e-3 took 725 s
    # (over the 15-minute budget) and lowered success (76% -> 68%, intervals overlapping), so the stage
    # gets half the steps at a fifth of the step size.
    rl={
        "env_steps": 2048,
        "n_envs": 8,
        "n_steps": 64,
        "batch_size": 128,
        "n_epochs": 8,
        "lr": 2e-4,
        "gamma": 0.95,
        "anchor": "bc",
        "anchor_coef": 0.1,
        "checkpoint_every": 512,
    },
    rl_env_kwargs={"max_steps": 15},
    other_protocol_rows=True,
)
"""The web recipe: WebShop with the embedded MiniLM backbone."""

FEEDBACK_SUITE = replace(
    WEB_SUITE,
    name="feedback",
    other_protocol_rows=False,
    # Every row samples at most 15 steps (RL's own episode cap): a WebShop purchase takes 4-8 and a
    # policy that has not bought by then rarely does, while capped episodes keep best-of-16 affordable.
    eval_max_steps=15,
    # Two RL stages (from the reward model and from the true reward) at the same budget: 2,048 env steps
    # each took 554-592 s on the 2-core machine (whole suite 29 min); 1,024 each keeps it near 20 min.
    rl={**WEB_SUITE.rl, "env_steps": 1024},
    feedback={
        "pairs": 300,
        # Two samples of a BC policy that succeeds ~75% of the time mostly tie: on 64 train goals the
        # oracle tied 80% of pairs at temperature 1.5, 73% at 2 and 39% at 3 (identical episodes 62%, 55%,
        # 27%). Comparisons are sampled at 3, so the reward model sees the choices the policy hesitates
        # over; search and every evaluated row sample at temperature 1.
        "temperature": 3.0,
        "rater_temperature": 0.05,
        "tie_margin": 0.01,
        "best_of": 16,
        "rm": {"steps": 400, "batch_size": 32, "lr": 1e-3, "eval_every": 100, "checkpoint_every": 200},
    },
)
"""Learning from feedback on WebShop: BC, oracle comparisons of BC samples, a reward model, best-of-N
and RL from the reward model next to RL from the true reward (:mod:`rlft.agents.feedback`)."""

TABLETOP_FAMILIES: tuple[str, ...] = (
    "PutBlockInBowl",
    "PackObjectInBox",
    "PlaceInZone",
    "PutBlockOnBlock",
    "PlaceNextTo",
    "StackBlocks",
    "StackPyramid",
    "TowersOfHanoi",
    "SortByColour",
    "SeparatePiles",
    "AlignBlocks",
)
"""The tabletop task families of the ``tabletop-all`` suite (``rlft/Tabletop<Name>-v0``)."""

DEMO_SUITES: dict[str, DemoSuite] = {
    "web": WEB_SUITE,
    "feedback": FEEDBACK_SUITE,
    "miniwob": DemoSuite(
        name="miniwob",
        env_id="rlft/MiniWoB-click-checkboxes-v0",
        backbone="minilm",
        train_split="train",
        test_split="test",
        # Live Chromium steps cost ~30-50 ms and episodes are 1-7 steps: demonstrations take seconds.
        demo_episodes=150,
        eval_episodes=50,
        bc={
            "steps": 300,
            "batch_size": 32,
            "lr": 1e-3,
            "eval_every": 100,
            "checkpoint_every": 100,
            "finetune": "frozen",
        },
        rl={
            "env_steps": 1024,
            "n_envs": 2,
            "n_steps": 64,
            "batch_size": 64,
            "n_epochs": 4,
            "lr": 1e-3,
            "anchor": "bc",
            "anchor_coef": 0.1,
            "checkpoint_every": 512,
        },
    ),
    "tabletop": DemoSuite(
        name="tabletop",
        env_id="rlft/TabletopPutBlockInBowl-v0",
        backbone="minilm+efficientnet",
        train_split="train",
        test_split="test",
        # Each episode is one pick-and-place (about 30 ms to record), so demonstrations are cheap: 1,000
        # of them are what lets BC tell the named block and bowl from the distractors on unseen colours.
        demo_episodes=1000,
        # One-step episodes evaluate in ~0.15 s each: 200 per agent narrows the 95% intervals to about
        # +-0.07, enough to tell BC and BC+RL apart.
        eval_episodes=200,
        bc={"steps": 500, "batch_size": 16, "lr": 1e-3, "eval_every": 100, "checkpoint_every": 100},
        rl={
            "env_steps": 2048,
            "n_envs": 4,
            "n_steps": 64,
            "batch_size": 64,
            "n_epochs": 4,
            "lr": 1e-3,
            "anchor": "bc",
            "anchor_coef": 0.03,
            "checkpoint_every": 1024,
        },
        # The top-down colormap + heightmap is aligned with the pick/place grid (Transporter's insight);
        # the front camera is not, and BC on it never got a single validation action right.
        env_kwargs={"heightmap": True},
    ),
    "tabletop-all": DemoSuite(
        name="tabletop-all",
        env_id="rlft/TabletopPutBlockInBowl-v0",
        env_ids=tuple(f"rlft/Tabletop{name}-v0" for name in TABLETOP_FAMILIES),
        backbone="minilm+efficientnet",
        train_split="train",
        test_split="test",
        demo_episodes=150,
        eval_episodes=20,
        bc={"steps": 1200, "batch_size": 16, "lr": 1e-3, "eval_every": 300, "checkpoint_every": 300},
        env_kwargs={"heightmap": True, "step_observation": True},
        sample_actions=False,
    ),
    "web-all": DemoSuite(
        name="web-all",
        env_id="rlft/WebShop-v0",
        env_ids=env_group("all-web"),
        backbone="minilm",
        train_split="train",
        test_split="test",
        # Every demonstration state costs one frozen MiniLM pass over its observation and each of its
        # candidates (cached afterwards: later epochs are cheap), and so does every evaluation step; the
        # candidates (up to 136 a state) are most of the tokens. On 2 shared cores those passes, not the
        # expert, bound the budgets, hence few demonstrations per id and short token budgets.
        demo_episodes=8,
        eval_episodes=5,
        eval_splits=("test",),
        bc={
            "steps": 300,
            "batch_size": 16,
            "lr": 1e-3,
            "eval_every": 150,
            "checkpoint_every": 150,
            "max_val_transitions": 64,
            "finetune": "frozen",
            "policy_kwargs": {
                "scorer": "cross_attention",
                "max_obs_tokens": 96,
                "max_history_tokens": 32,
                "max_command_tokens": 16,
            },
        },
        sample_actions=False,
    ),
}
"""The suites ``rlft demo`` knows."""

EVAL_SEED = 100_000
"""Every demo row is evaluated on the test goals reset with seeds ``100000 + i``."""

QUICK_OVERRIDES: dict[str, Any] = {
    "demo_episodes": 3,
    "eval_episodes": 4,
    "feedback": {"pairs": 6, "rm": {"steps": 4, "eval_every": 2, "checkpoint_every": 2}},
    "bc": {"steps": 4, "eval_every": 2, "checkpoint_every": 2},
    "rl": {
        "env_steps": 32,
        "n_envs": 2,
        "n_steps": 8,
        "batch_size": 8,
        "n_epochs": 1,
        "checkpoint_every": 16,
    },
}
"""``--quick``: tiny budgets that exercise every stage in seconds (a smoke test, not a result)."""


@dataclass
class DemoResult:
    """The demo's outcome: one row per agent on the test split, plus stage timings."""

    suite: str
    env_id: str
    test_split: str
    rows: dict[str, TaskResult]
    seconds: dict[str, float]
    note: str
    report_path: Path
    protocol: str = ""
    rl_env_steps_per_s: float | None = None
    """Environment steps per second of this run's RL stage (``None`` when it reused a finished run)."""
    rm_accuracy: float | None = None
    """Held-out pairwise accuracy of the reward model (the feedback suite)."""
    plot_path: Path | None = None
    """The over-optimisation plot (the feedback suite)."""

    def table(self) -> str:
        """The table the README shows."""
        width = max(10, *(len(name) for name in self.rows))
        lines = [
            f"rlft demo --suite {self.suite}: {self.env_id}, {self.test_split} goals, "
            f"{next(iter(self.rows.values())).episodes} episodes each, {self.protocol} (95% CI)",
            f"{'agent':<{width}} {'success':>8}  {'[CI]':<13} {'score':>6}  {'[CI]':<13}",
        ]
        for name, r in self.rows.items():
            lines.append(
                f"{name:<{width}} {r.success_rate:>8.1%}  [{r.success_ci[0]:.2f}, {r.success_ci[1]:.2f}]  "
                f"{r.mean_reward:>6.3f}  [{r.reward_ci[0]:.2f}, {r.reward_ci[1]:.2f}]"
            )
        timing = ", ".join(f"{k} {v:.0f}s" for k, v in self.seconds.items())
        if self.rl_env_steps_per_s is not None:
            timing += f"; RL stage {self.rl_env_steps_per_s:.1f} env steps/s"
        if self.rm_accuracy is not None:
            lines.append(f"reward model: held-out pairwise accuracy {self.rm_accuracy:.1%}")
        lines += [f"time: {timing}", self.note]
        return "\n".join(lines)


def _quick(suite: DemoSuite) -> DemoSuite:
    return replace(
        suite,
        demo_episodes=QUICK_OVERRIDES["demo_episodes"],
        eval_episodes=QUICK_OVERRIDES["eval_episodes"],
        bc={**suite.bc, **QUICK_OVERRIDES["bc"]},
        rl={**suite.rl, **QUICK_OVERRIDES["rl"]},
        feedback={**suite.feedback, **QUICK_OVERRIDES["feedback"]} if suite.feedback else {},
    )


def _note(rows: dict[str, TaskResult], suite: DemoSuite) -> str:
    """One honest sentence comparing BC+RL with BC on the test goals."""
    bc, rl = rows["BC"], rows["BC+RL"]
    change = f"success {bc.success_rate:.0%} -> {rl.success_rate:.0%}, "
    change += f"score {bc.mean_reward:.3f} -> {rl.mean_reward:.3f}"
    if rl.success_rate >= bc.success_rate and rl.mean_reward > bc.mean_reward:
        separated = rl.reward_ci[0] > bc.reward_ci[1]
        return f"BC+RL beats BC on {suite.test_split} goals ({change}); " + (
            "the score intervals do not overlap."
            if separated
            else "the score intervals overlap: evaluate more episodes before trusting the gap."
        )
    return (
        f"BC+RL did NOT beat BC on {suite.test_split} goals here ({change}). Tried: PPO with a BC anchor "
        f"(coef {suite.rl.get('anchor_coef')}) for {suite.rl.get('env_steps')} steps; more timesteps "
        "or a smaller anchor weight are the next things to try."
    )


@dataclass
class DemoConfig(RunConfig):
    """The whole recipe: collect, BC, RL, evaluate; a table of random / BC / BC+RL / expert.

    One suite of DEMO_SUITES, run into out_dir (default ./rlft-demo); re-running reuses finished stages.

    The seed seeds every stage (collect, BC, RL); evaluation always uses test seeds 100000 + i.
    """

    suite: str = "web"
    """web (WebShop), miniwob (MiniWoB++ click-checkboxes on live Chromium), tabletop
    (TabletopPutBlockInBowl, top-down view), tabletop-all (one multi-task policy over the 11 tabletop
    families, per-task success on train and test colours), web-all (one multi-task policy over shop, QA
    and the 14 form families, per-id success on test goals) or feedback (WebShop: comparisons, a reward
    model, best-of-N and RL from the reward model)."""
    quick: bool = False
    """Tiny budgets (a smoke test, not the real table)."""
    backbone: str | None = None
    """Replace the suite's backbone (none: minilm for web, minilm+efficientnet for tabletop)."""


def run_demo_config(config: DemoConfig) -> DemoResult | MultiTaskResult:
    """Run the demo ``config`` describes; what rlft demo runs.

    Raises:
        UnknownNameError: unknown suite.
    """
    config.validate()
    if config.suite not in DEMO_SUITES:
        raise UnknownNameError(unknown_name_message("demo suite", config.suite, DEMO_SUITES))
    if DEMO_SUITES[config.suite].feedback:
        return run_feedback_demo(
            DEMO_SUITES[config.suite],
            config.out_dir or "rlft-demo",
            quick=config.quick,
            backbone=config.backbone,
            progress=config.show_progress,
            run=config,
        )
    return run_demo(
        DEMO_SUITES[config.suite],
        config.out_dir or "rlft-demo",
        quick=config.quick,
        backbone=config.backbone,
        progress=config.show_progress,
        run=config,
    )


def collect_stage(suite: DemoSuite, out: Path, run: RunConfig, progress: bool) -> Path:
    """Expert demonstrations on the train goals into ``out/demos`` (a finished dataset is reused)."""
    demos_dir = out / "demos"
    reuse_or_collect(
        suite.env_id,
        suite.demo_episodes,
        demos_dir,
        split=suite.train_split,
        seed=run.seed,
        env_kwargs=suite.env_kwargs,
        progress=progress,
    )
    return demos_dir


def bc_stage(suite: DemoSuite, out: Path, demos_dir: Path, run: RunConfig, progress: bool) -> BCResult:
    """Behaviour cloning into ``out/bc`` (resumed from its checkpoints)."""
    return train_bc(
        BCConfig(
            dataset=str(demos_dir),
            out_dir=str(out / "bc"),
            backbone=suite.backbone,
            progress=progress,
            **run.run_fields(),
            **suite.bc,
        )
    )


def rl_stage(
    suite: DemoSuite,
    folder: Path,
    bc: BCResult,
    demos_dir: Path,
    run: RunConfig,
    progress: bool,
    reward_model: str | None = None,
) -> RLResult:
    """PPO with a BC anchor from the BC policy into ``folder``, on the env's reward or a reward model's."""
    return train_rl(
        RLConfig(
            env_id=suite.env_id,
            policy=str(bc.policy_dir),
            out_dir=str(folder),
            split=suite.train_split,
            env_kwargs={**suite.env_kwargs, **suite.rl_env_kwargs},
            anchor_dataset=str(demos_dir),
            progress=progress,
            reward_model=reward_model,
            **{**run.run_fields(), "precision": "fp32" if run.precision == "fp16" else run.precision},
            **suite.rl,
        )
    )


def _policy_agent(
    suite: DemoSuite, folder: Path, name: str, run: RunConfig, greedy: bool | None = None
) -> PolicyAgent:
    """A saved policy acting as the suite evaluates it (sampled or greedy, unless ``greedy`` says)."""
    policy = load_agent_policy(folder, device=run.torch_device(), progress=run.show_progress)
    return PolicyAgent(policy, name, not suite.sample_actions if greedy is None else greedy, run.precision)


def _evaluate(suite: DemoSuite, agent: Agent, out: Path, progress: bool) -> TaskResult:
    """The agent on the suite's test goals (seeds 100000 + i), its first episode recorded."""
    return evaluate_agent(
        agent,
        suite.env_id,
        split=suite.test_split,
        episodes=suite.eval_episodes,
        seed=EVAL_SEED,
        max_steps=suite.eval_max_steps,
        env_kwargs=dict(suite.env_kwargs),
        record_dir=out / "episodes",
        record_episodes=1,
        progress=progress,
    )


def _protocol(suite: DemoSuite) -> str:
    protocol = "policies sample their actions" if suite.sample_actions else "greedy policies"
    if suite.eval_max_steps is not None:
        protocol += f", at most {suite.eval_max_steps} steps"
    return protocol


def _env_steps_per_s(rl: RLResult) -> float | None:
    new_steps = rl.timesteps - rl.resumed_from
    return new_steps / rl.seconds if new_steps > 0 and rl.seconds > 0 else None


def _provenance(suite: DemoSuite, run: RunConfig, policies: dict[str, Path], **facts: Any) -> dict[str, Any]:
    return provenance(
        policies={name: str(folder.resolve()) for name, folder in policies.items()},
        sampled=suite.sample_actions,
        env_kwargs=dict(suite.env_kwargs),
        max_steps=suite.eval_max_steps,
        seed=run.seed,
        eval_seed=EVAL_SEED,
        device=str(run.torch_device()),
        precision=run.precision,
        **facts,
    )


def run_demo(
    suite: DemoSuite,
    out_dir: str | Path = "rlft-demo",
    *,
    quick: bool = False,
    backbone: str | None = None,
    progress: bool = False,
    run: RunConfig | None = None,
) -> DemoResult | MultiTaskResult:
    """Run the demo pipeline of ``suite`` into ``out_dir`` and return its table.

    A suite with ``env_ids`` runs the multi-task pipeline of :mod:`rlft.agents.multitask` instead.

    Args:
        suite: one of :data:`DEMO_SUITES` (or your own).
        out_dir: working folder; re-running reuses finished stages.
        quick: use :data:`QUICK_OVERRIDES` (seconds; for tests, not for results).
        backbone: replace the suite's backbone (e.g. ``tiny-bert`` for a smoke test).
        progress: show progress bars.
        run: seed, device, precision and threads of every stage (default :class:`RunConfig`).

    """
    run = run or RunConfig()
    suite = _quick(suite) if quick else suite
    suite = replace(suite, backbone=backbone) if backbone else suite
    if suite.env_ids:
        from rlft.agents.multitask import run_multitask_demo

        return run_multitask_demo(suite, out_dir, quick=quick, progress=progress, run=run)
    out = Path(out_dir)
    seconds: dict[str, float] = {}

    t = time.perf_counter()
    demos_dir = collect_stage(suite, out, run, progress)
    seconds["collect"] = time.perf_counter() - t

    t = time.perf_counter()
    bc = bc_stage(suite, out, demos_dir, run, progress)
    seconds["bc"] = time.perf_counter() - t

    t = time.perf_counter()
    rl = rl_stage(suite, out / "rl", bc, demos_dir, run, progress)
    seconds["rl"] = time.perf_counter() - t

    t = time.perf_counter()
    agents: dict[str, Agent] = {
        "random": RandomAgent(),
        "BC": _policy_agent(suite, bc.policy_dir, "bc", run),
        "BC+RL": _policy_agent(suite, rl.policy_dir, "bc_rl", run),
        "expert": ExpertAgent(),
    }
    if suite.other_protocol_rows:
        other = "greedy" if suite.sample_actions else "sampled"
        agents[f"BC {other}"] = _policy_agent(suite, bc.policy_dir, f"bc_{other}", run, suite.sample_actions)
        agents[f"BC+RL {other}"] = _policy_agent(
            suite, rl.policy_dir, f"bc_rl_{other}", run, suite.sample_actions
        )
    rows = {name: _evaluate(suite, agent, out, progress) for name, agent in agents.items()}
    seconds["eval"] = time.perf_counter() - t
    seconds["total"] = sum(seconds.values())
    report_path = out / "demo_report.json"
    protocol = _protocol(suite)
    rl_speed = _env_steps_per_s(rl)
    result = DemoResult(
        suite.name,
        suite.env_id,
        suite.test_split,
        rows,
        seconds,
        _note(rows, suite),
        report_path,
        protocol,
        rl_speed,
    )
    report_path.write_text(
        json.dumps(
            {
                "suite": asdict(suite),
                "quick": quick,
                "seconds": seconds,
                "rl": {"env_steps": rl.timesteps, "env_steps_per_s": rl_speed},
                "note": result.note,
                "rows": {name: asdict(r) for name, r in rows.items()},
                "provenance": _provenance(suite, run, {"BC": bc.policy_dir, "BC+RL": rl.policy_dir}),
            },
            indent=2,
        )
    )
    return result


def run_feedback_demo(
    suite: DemoSuite,
    out_dir: str | Path = "rlft-demo",
    *,
    quick: bool = False,
    backbone: str | None = None,
    progress: bool = False,
    run: RunConfig | None = None,
) -> DemoResult:
    """Learning from feedback: BC, comparisons, a reward model, best-of-N, RL from the reward model.

    Stages (each reused or resumed when the command runs again): expert demonstrations and BC as in
    :func:`run_demo`; pairs of sampled BC episodes on train goals rated by the oracle
    (``out_dir/comparisons``); a reward model on them, goals held out (``out_dir/rm``); best-of-N with it
    on the test goals, whose first sample per goal is the ``BC`` row (the plain sampled evaluation);
    RL from the reward model (``out_dir/rl_rm``) and from the true reward (``out_dir/rl_true``) at the
    same budget, both evaluated like BC. The over-optimisation plot is ``out_dir/overoptimisation.png``.

    Args: as :func:`run_demo`; ``suite.feedback`` holds the feedback budgets.
    """
    from rlft.agents.feedback import compare_stage, feedback_note, plot_overoptimisation, rm_stage
    from rlft.agents.search import best_of_n
    from rlft.policies.reward import load_reward_model

    run = run or RunConfig()
    suite = _quick(suite) if quick else suite
    suite = replace(suite, backbone=backbone) if backbone else suite
    out = Path(out_dir)
    seconds: dict[str, float] = {}

    def timed(name: str, stage: Any) -> Any:
        t = time.perf_counter()
        value = stage()
        seconds[name] = time.perf_counter() - t
        return value

    demos_dir = timed("collect", lambda: collect_stage(suite, out, run, progress))
    bc = timed("bc", lambda: bc_stage(suite, out, demos_dir, run, progress))
    compared = timed(
        "compare",
        lambda: compare_stage(
            suite.env_id,
            suite.train_split,
            bc.policy_dir,
            out / "comparisons",
            suite.feedback,
            run,
            max_steps=suite.eval_max_steps,
            progress=progress,
        ),
    )
    rm = timed(
        "rm",
        lambda: rm_stage(
            out / "comparisons", out / "rm", suite.backbone, suite.feedback, run, progress=progress
        ),
    )

    def search() -> Any:
        reward_model = load_reward_model(rm.model_dir, device=run.torch_device(), progress=run.show_progress)
        agent = _policy_agent(replace(suite, sample_actions=True), bc.policy_dir, "bc", run)
        return best_of_n(
            agent,
            reward_model,
            suite.env_id,
            best_of=int(suite.feedback.get("best_of", 16)),
            goals=suite.eval_episodes,
            seed=EVAL_SEED,
            split=suite.test_split,
            max_steps=suite.eval_max_steps,
            env_kwargs=dict(suite.env_kwargs),
            progress=progress,
        )

    curve = timed("search", search)
    rl_rm = timed(
        "rl_rm", lambda: rl_stage(suite, out / "rl_rm", bc, demos_dir, run, progress, str(rm.model_dir))
    )
    rl_true = timed("rl_true", lambda: rl_stage(suite, out / "rl_true", bc, demos_dir, run, progress))
    rl_rows = timed(
        "eval",
        lambda: {
            "BC+RL (RM)": _evaluate(
                suite, _policy_agent(suite, rl_rm.policy_dir, "bc_rl_rm", run), out, progress
            ),
            "BC+RL (true reward)": _evaluate(
                suite, _policy_agent(suite, rl_true.policy_dir, "bc_rl_true", run), out, progress
            ),
        },
    )
    seconds["total"] = sum(seconds.values())
    rows = {
        "BC": curve.rm[1],
        "BC best-of-4 (RM)": curve.rm[4],
        "BC best-of-16 (RM)": curve.rm[16],
        "BC best-of-16 (oracle)": curve.oracle[16],
        **rl_rows,
    }
    rm_accuracy = rm.heldout_accuracy
    plot = plot_overoptimisation(
        {"RL from the reward model": rl_rm.history, "RL from the true reward": rl_true.history},
        out / "overoptimisation.png",
        title=f"{suite.env_id}: RL from a learned reward (train goals)",
    )
    report_path = out / "demo_report.json"
    result = DemoResult(
        suite.name,
        suite.env_id,
        suite.test_split,
        rows,
        seconds,
        feedback_note(rows, rm_accuracy),
        report_path,
        _protocol(suite),
        _env_steps_per_s(rl_rm),
        rm_accuracy=rm_accuracy,
        plot_path=plot,
    )
    report = {
        "suite": asdict(suite),
        "quick": quick,
        "seconds": seconds,
        "rl": {"env_steps": rl_rm.timesteps, "env_steps_per_s": result.rl_env_steps_per_s},
        "rl_true": {"env_steps": rl_true.timesteps, "env_steps_per_s": _env_steps_per_s(rl_true)},
        "note": result.note,
        "rows": {name: asdict(r) for name, r in rows.items()},
        "rm_accuracy": rm_accuracy,
        "rm": {"metrics": rm.metrics, "report": str(rm.report_path.resolve())},
        "comparisons": {
            "pairs": compared.pairs,
            "new_pairs": compared.new_pairs,
            "new_ties": compared.ties,
            "folder": str(compared.out_dir.resolve()),
        },
        "search": curve.to_dict(),
        "rl_history": {"reward_model": rl_rm.history, "true_reward": rl_true.history},
        "plot": str(plot.resolve()),
        "provenance": _provenance(
            suite,
            run,
            {"BC": bc.policy_dir, "BC+RL (RM)": rl_rm.policy_dir, "BC+RL (true reward)": rl_true.policy_dir},
            reward_model=str(rm.model_dir.resolve()),
        ),
    }
    atomic_write_text(report_path, json.dumps(json_safe(report), indent=2))
    return result
