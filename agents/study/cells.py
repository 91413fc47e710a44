"""A study's cells: the grid expansion, each cell's resolved recipe and hash, the budget rule.

A *cell* is one (env, demonstration count, initialisation, method, seed): one run folder that collects
nothing itself (its demonstrations are a shared :class:`DemoSet`), trains the method's stages and
evaluates the result. A cell's :meth:`Cell.spec` is every setting that decides its result, resolved
(the demo suite's budgets merged with the env's overrides); its hash guards resume against a changed
study.

The methods are in :mod:`rlft.agents.study.methods`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rlft.agents.study.config import StudyConfig, StudyEnv, multitask_methods
from rlft.agents.study.methods import METHODS
from rlft.errors import ConfigError

__all__ = [
    "Cell",
    "DemoSet",
    "demo_seed",
    "env_family",
    "expand_cells",
    "fair_rl_steps",
    "family_of",
    "feedback_recipe",
    "resolve_recipe",
]


def family_of(env_id: str) -> str:
    """``web`` (text commands) or ``tabletop`` (pick-and-place actions), from the env's action space."""
    from gymnasium import spaces
    from rlft.demos.envs import make_env

    env = make_env(env_id, "train")
    try:
        return "web" if isinstance(env.action_space, spaces.Text) else "tabletop"
    finally:
        env.close()


def env_family(env: StudyEnv) -> str:
    """The family of a study entry: every one of its ids must share it (one policy reads one family).

    Raises:
        ConfigError: a multi-task entry mixing web and tabletop ids.
    """
    families = {task: family_of(task) for task in env.task_ids}
    if len(set(families.values())) > 1:
        raise ConfigError(
            f"{env.env_id} mixes web and tabletop ids ({families}): one policy reads one family's "
            "observations; make one entry per family."
        )
    return next(iter(families.values()))


def demo_seed(seed: int) -> int:
    """First reset seed of a cell seed's demonstrations (episode i: + i); far apart per seed."""
    return seed * 1_000_000


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class DemoSet:
    """Expert demonstrations shared by every cell with the same env, count and seed."""

    env_id: str
    count: int
    seed: int
    split: str
    env_kwargs: tuple[tuple[str, Any], ...]

    @property
    def folder(self) -> str:
        """Folder under the study's ``demos/``."""
        return f"{self.env_id.rsplit('/', 1)[-1]}/n{self.count}_s{self.seed}"

    def spec(self) -> dict[str, Any]:
        """What decides the dataset's content."""
        return {
            "env_id": self.env_id,
            "episodes": self.count,
            "collect_seed": demo_seed(self.seed),
            "split": self.split,
            "env_kwargs": dict(self.env_kwargs),
        }


@dataclass(frozen=True)
class Cell:
    """One run of the grid: env x demos x init x method x seed, with its resolved recipe."""

    env: StudyEnv = field(compare=False, hash=False)
    env_id: str
    demos: int
    init: str
    method: str
    seed: int
    recipe: dict[str, Any] = field(compare=False, hash=False, default_factory=dict)
    """The resolved recipe (see :func:`resolve_recipe`)."""

    @property
    def key(self) -> str:
        """The cell's folder under ``cells/``: ``WebShop-v0/bc+rl/pretrained/d10_s0``."""
        return f"{self.env.slug}/{self.method}/{self.init}/d{self.demos}_s{self.seed}"

    @property
    def tasks(self) -> tuple[str, ...]:
        """The env ids the cell trains and is evaluated on (one, or a multi-task entry's)."""
        return self.env.task_ids

    @property
    def demo_sets(self) -> tuple[DemoSet, ...]:
        """The demonstrations the cell trains on, one set per task (none for methods without them)."""
        if self.demos == 0:
            return ()
        kwargs = tuple(sorted(self.recipe["env_kwargs"].items()))
        return tuple(DemoSet(t, self.demos, self.seed, self.env.train_split, kwargs) for t in self.tasks)

    @property
    def backbone(self) -> str:
        """The backbone spec this cell trains (``scratch:<spec>`` for the scratch initialisation)."""
        base = str(self.recipe["backbone"])
        return f"scratch:{base}" if self.init == "scratch" else base

    @property
    def finetune(self) -> str:
        """The backbone's fine-tuning mode in this cell."""
        if self.init == "scratch" and self.env.scratch_finetune is not None:
            return self.env.scratch_finetune
        return str(self.recipe["finetune"])

    @property
    def stages(self) -> tuple[str, ...]:
        """The method's stages."""
        return METHODS[self.method].stages

    def spec(self) -> dict[str, Any]:
        """Every setting that decides this cell's result (not device, threads or progress bars)."""
        sets = [d.spec() for d in self.demo_sets]
        multitask = {"tasks": list(self.tasks), "demo_sets": sets} if self.env.multitask else {}
        return {
            **multitask,
            "env_id": self.env_id,
            "demos": self.demos,
            "init": self.init,
            "method": self.method,
            "seed": self.seed,
            "stages": list(self.stages),
            "backbone": self.backbone,
            "finetune": self.finetune,
            "demo_set": sets[0] if sets and not multitask else None,
            # The search settings decide only the cells that search (adding best-of-n to a study keeps
            # its other cells).
            **{k: v for k, v in self.recipe.items() if k != "feedback" or "rm" in self.stages},
            "backbone_base": self.recipe["backbone"],
        }

    def spec_hash(self) -> str:
        """A short hash of :meth:`spec`."""
        return _digest(self.spec())


def feedback_recipe(family: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The best-of-n settings of an env, with ``overrides`` merged over them (``rm`` key by key).

    They start from the feedback demo's (``rlft demo --suite feedback``). Web compares and searches
    episodes capped at its 15 steps (a WebShop purchase takes 4-8; uncapped, 16 samples of a looping
    policy would cost 16 x 50 steps per goal). Tabletop pairs are sampled at temperature 2 (600 pairs:
    its one-step episodes are cheap) and run to the env's own limit.
    """
    from rlft.agents.demo import FEEDBACK_SUITE

    base = {**FEEDBACK_SUITE.feedback, "max_steps": FEEDBACK_SUITE.eval_max_steps}
    if family == "tabletop":
        base.update(pairs=600, temperature=2.0, max_steps=None)
    rm = {**base.get("rm", {}), **overrides.get("rm", {})}
    return {**base, **overrides, "rm": rm}


def resolve_recipe(env: StudyEnv, family: str, config: StudyConfig) -> dict[str, Any]:
    """The env's recipe with the family's demo-suite budgets filled in, as plain JSON data.

    A multi-task entry gets the same recipe as its family's single-task cells (policy, BC steps and
    batch), so the two are compared at one training budget per policy; the multi-task demos
    (``rlft demo --suite web-all``) cut both to fit 2 cores in minutes.
    """
    from rlft.agents.demo import DEMO_SUITES

    suite = DEMO_SUITES[family]
    bc = {**suite.bc, **env.bc}
    finetune = env.finetune or bc.pop("finetune", None) or "auto"
    bc.pop("finetune", None)
    if env.policy:
        bc["policy_kwargs"] = {**bc.get("policy_kwargs", {}), **env.policy}
    recipe = {
        "family": family,
        "backbone": env.backbone or suite.backbone,
        "finetune": finetune,
        "train_split": env.train_split,
        "eval_splits": list(env.eval_splits),
        "eval_episodes": env.eval_episodes,
        "eval_seed": config.eval_seed,
        "sample": env.sample,
        "eval_max_steps": env.eval_max_steps,
        "env_kwargs": dict(suite.env_kwargs if env.env_kwargs is None else env.env_kwargs),
        "rl_env_kwargs": dict(suite.rl_env_kwargs if env.rl_env_kwargs is None else env.rl_env_kwargs),
        "bc": bc,
        "rl": {**suite.rl, **env.rl},
        "feedback": feedback_recipe(family, env.feedback),
        "budget": config.budget,
        "precision": config.precision,
    }
    return json.loads(json.dumps(recipe))


def expand_cells(config: StudyConfig, families: dict[str, str] | None = None) -> list[Cell]:
    """Every cell of the study, in a stable order (env, init, seed, method, demos).

    Methods with demonstrations get one cell per demos count; the others one cell with demos = 0. A
    multi-task entry gets the cells of :func:`~rlft.agents.study.config.multitask_methods` only.

    Args:
        config: the study.
        families: ``env_id -> "web" | "tabletop"`` (detected with :func:`env_family` when missing).
    """
    families = dict(families or {})
    cells: list[Cell] = []
    for env in config.envs:
        family = families.get(env.env_id) or env_family(env)
        recipe = resolve_recipe(env, family, config)
        methods = multitask_methods(config.methods) if env.multitask else config.methods
        for init in config.inits:
            for seed in config.seeds:
                for name in methods:
                    counts: Sequence[int] = env.demos if METHODS[name].uses_demos else (0,)
                    cells.extend(Cell(env, env.env_id, d, init, name, seed, recipe) for d in counts)
    return cells


def fair_rl_steps(rl_steps: int, bc_seconds: float, rl_steps_per_s: float, rollout: int) -> int:
    """The ``matched`` budget of ``rl``: ``bc+rl``'s RL env steps plus its BC stage's compute in env steps.

    The BC stage's wall time is converted at the env steps per second the same cell's RL stage measured
    (the compute BC spent would have bought that many RL steps), and the sum is rounded up to whole
    rollouts (``n_envs * n_steps``), which PPO collects anyway.

    Raises:
        ConfigError: a negative or non-finite input, or a rollout below 1.
    """
    values = {"rl_steps": rl_steps, "bc_seconds": bc_seconds, "rl_steps_per_s": rl_steps_per_s}
    for name, value in values.items():
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"fair_rl_steps: {name}={value!r} must be finite and >= 0.")
    if rollout < 1:
        raise ConfigError(f"fair_rl_steps: rollout={rollout!r} must be >= 1.")
    total = rl_steps + bc_seconds * rl_steps_per_s
    return math.ceil(total / rollout) * rollout
