"""What a study sweeps, declared once: :class:`StudyEnv` per environment, :class:`StudyConfig` for the sweep.

A study is the grid ``envs x demonstration counts x backbone initialisation x method x seeds``. It comes
from a TOML file, a preset (:data:`PRESETS`) or Python; the ``rlft study`` flags override single keys.
The TOML file has the fields of :class:`StudyConfig` at the top and one ``[[envs]]`` table per
environment with the fields of :class:`StudyEnv`::

    methods = ["bc", "bc+rl", "rl"]
    inits = ["pretrained", "scratch"]
    n_seeds = 2

    [[envs]]
    env_id = "rlft/WebShop-v0"
    demos = [10, 30, 100]
    eval_episodes = 50
    bc = { steps = 600 }
    rl = { env_steps = 4096 }

Unknown keys and values of the wrong type raise :class:`rlft.errors.ConfigError` naming the key (with a
"did you mean"). Budgets an env does not set come from the ``rlft demo`` suite of its family
(:data:`rlft.agents.demo.DEMO_SUITES`), so a study starts from the demo's tuned recipe.
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from rlft.agents.config import RunConfig
from rlft.errors import ConfigError, check_choice, check_float, check_int, did_you_mean, require

__all__ = [
    "INITS",
    "PRESETS",
    "BudgetRule",
    "StudyArgs",
    "StudyConfig",
    "StudyEnv",
    "load_study_file",
    "multitask_methods",
    "preset_config",
    "read_study_file",
    "study_from_mapping",
]

INITS: tuple[str, ...] = ("pretrained", "scratch")
"""Backbone initialisations: the pretrained weights, or the same architecture with random weights
(the ``scratch:`` backbone prefix, seeded with the cell's seed)."""

BudgetRule = str
BUDGET_RULES: tuple[str, ...] = ("matched", "rl-stage")
"""How ``rl`` (no demonstrations) is budgeted: ``matched`` gives it the env steps of ``bc+rl``'s RL stage
plus the BC stage's compute converted to env steps at the measured RL speed; ``rl-stage`` gives it the RL
stage's env steps only."""


@dataclass
class StudyEnv:
    """One environment of a study, with its demonstration counts and its training recipe."""

    env_id: str
    """Environment id (rlft/WebShop-v0, rlft/TabletopPutBlockInBowl-v0 ...), or the name of a multi-task
    entry: a group of :data:`rlft.agents.policy_io.ENV_GROUPS` (``all-forms``, ``all-web``,
    ``all-tabletop``), or any name when ``tasks`` lists the ids."""
    tasks: tuple[str, ...] = ()
    """Env ids one policy learns together (CLIPort's multi-task setting): every cell of the entry records
    ``demos`` demonstrations of each, trains one BC policy on all of them (with the recipe of the family's
    single-task cells: one training budget per policy) and is evaluated on each, one CSV row per id and
    split. Empty: env_id alone, or a group's members. Only methods whose stages are ``bc`` alone run on such
    an entry (RL trains on one env)."""
    demos: tuple[int, ...] = (10, 100)
    """Demonstration counts for the methods that learn from demonstrations (bc, bc+rl)."""
    eval_splits: tuple[str, ...] = ("test",)
    """Goal splits every policy is evaluated on (tabletop: train = seen colours, test or unseen = unseen)."""
    train_split: str = "train"
    """Goals for demonstrations, BC and RL."""
    eval_episodes: int = 50
    """Episodes per evaluation split; episode i resets with eval_seed + i in every cell (paired tests)."""
    backbone: str | None = None
    """Pretrained backbone spec (None: the demo suite's: minilm for web, minilm+efficientnet for tabletop);
    the scratch initialisation uses scratch:<backbone>."""
    finetune: str | None = None
    """How the backbone trains (None: the demo suite's BC setting, else the family default)."""
    scratch_finetune: str | None = None
    """Fine-tuning mode of the scratch initialisation (None: the same as finetune)."""
    env_kwargs: dict[str, Any] | None = None
    """gym.make kwargs of every stage (None: the demo suite's, e.g. heightmap=true on tabletop)."""
    rl_env_kwargs: dict[str, Any] | None = None
    """Extra gym.make kwargs for the RL stage only (None: the demo suite's, e.g. max_steps=15 on web)."""
    policy: dict[str, Any] = field(default_factory=dict)
    """PolicyConfig overrides of every cell (merged over the demo suite's policy settings), e.g.
    ``{ lexical_features = false }``; the study sets backbone, finetune and seed itself."""
    bc: dict[str, Any] = field(default_factory=dict)
    """BCConfig overrides (merged over the demo suite's)."""
    rl: dict[str, Any] = field(default_factory=dict)
    """RLConfig overrides (merged over the demo suite's)."""
    feedback: dict[str, Any] = field(default_factory=dict)
    """best-of-n settings, merged over the family's (:func:`rlft.agents.study.cells.feedback_recipe`):
    ``pairs`` of oracle-rated comparisons of BC samples, their sampling ``temperature``,
    ``rater_temperature``, ``tie_margin``, ``rm`` (RMConfig overrides), ``best_of`` (N) and ``max_steps``
    (cap on compared and searched episodes)."""
    sample: bool = True
    """Evaluate by sampling actions (seeded per episode) instead of greedily."""
    eval_max_steps: int | None = None
    """Cap on steps per evaluation episode (None: the env's own time limit)."""

    @property
    def task_ids(self) -> tuple[str, ...]:
        """The env ids the entry trains and evaluates on: ``tasks``, a group's members, or ``env_id``."""
        from rlft.agents.policy_io import ENV_GROUPS, env_group

        if self.tasks:
            return tuple(self.tasks)
        if self.env_id in ENV_GROUPS and self.env_id != "trained":
            return env_group(self.env_id)
        return (self.env_id,)

    @property
    def multitask(self) -> bool:
        """Whether one policy of each cell learns several ids (``tasks``, or a group as ``env_id``)."""
        return self.task_ids != (self.env_id,)

    def validate(self) -> None:
        """Check every field; raise ConfigError naming the bad one."""
        import re

        from rlft.demos.envs import check_env_id, check_env_kwargs

        if not self.multitask:
            check_env_id(self.env_id)
        elif not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", self.env_id) or self.env_id == "trained":
            raise ConfigError(
                f"{self.env_id!r} names a multi-task entry and its folder: use letters, digits and . _ + - "
                "(env_id = 'forms', tasks = ['rlft/WebFormLogin-v0', ...]), or a group such as all-forms."
            )
        if len(set(self.task_ids)) != len(self.task_ids):
            raise ConfigError(f"{self.env_id}: tasks {list(self.task_ids)} repeats an id.")
        for task in self.task_ids if self.multitask else ():
            check_env_id(task)
        if not self.demos:
            raise ConfigError(f"{self.env_id}: demos is empty; give at least one count, e.g. demos = [10].")
        for count in self.demos:
            check_int(f"{self.env_id} demos", count)
        if len(set(self.demos)) != len(self.demos):
            raise ConfigError(f"{self.env_id}: demos {list(self.demos)} repeats a count.")
        if not self.eval_splits:
            raise ConfigError(f"{self.env_id}: eval_splits is empty; e.g. eval_splits = ['test'].")
        check_int(f"{self.env_id} eval_episodes", self.eval_episodes)
        if self.eval_max_steps is not None:
            check_int(f"{self.env_id} eval_max_steps", self.eval_max_steps)
        for task in self.task_ids:
            check_env_kwargs(task, {**(self.env_kwargs or {}), **(self.rl_env_kwargs or {})})
        _check_overrides(self.env_id, "policy", self.policy, "rlft.policies:PolicyConfig", _POLICY_OWNED)
        if self.policy:
            from rlft.policies import PolicyConfig

            try:
                PolicyConfig(**self.policy)  # the values' own checks, before anything runs
            except ConfigError as err:
                raise ConfigError(f"{self.env_id} policy: {err}") from None
        _check_overrides(self.env_id, "bc", self.bc, "rlft.agents.bc:BCConfig", _BC_OWNED)
        _check_feedback(self.env_id, self.feedback)
        _check_overrides(self.env_id, "rl", self.rl, "rlft.agents.rl:RLConfig", _RL_OWNED)

    @property
    def slug(self) -> str:
        """The env id as a folder name (``WebShop-v0``)."""
        return self.env_id.rsplit("/", 1)[-1].replace(":", "_")


_BC_OWNED = frozenset(
    {"dataset", "out_dir", "backbone", "finetune", "policy", "seed", "device", "precision", "num_threads"}
    | {"progress", "resume", "force_config", "policy_kwargs"}
)
"""BCConfig fields the study sets itself (an override of them would break the sweep's meaning)."""
_POLICY_OWNED = frozenset({"backbone", "finetune", "seed", "torch_threads"})
"""PolicyConfig fields the study sets itself (from the env's backbone and finetune, the cell's seed)."""
_RL_OWNED = frozenset(
    {"env_id", "env_kwargs", "split", "out_dir", "backbone", "finetune", "policy", "seed", "device"}
    | {"precision", "num_threads", "progress", "resume", "force_config", "anchor_dataset", "policy_kwargs"}
)
"""RLConfig fields the study sets itself."""


FEEDBACK_KEYS: frozenset[str] = frozenset(
    {"pairs", "temperature", "rater_temperature", "tie_margin", "rm", "best_of", "max_steps"}
)
"""The keys of a study env's ``feedback`` table."""
_RM_OWNED = frozenset(
    {"prefs", "out_dir", "backbone", "seed", "device", "precision", "num_threads", "progress", "resume"}
    | {"force_config"}
)
"""RMConfig fields the study sets itself."""


def _check_feedback(env_id: str, feedback: Mapping[str, Any]) -> None:
    for key, value in feedback.items():
        if key not in FEEDBACK_KEYS:
            raise ConfigError(
                f"{env_id}: unknown feedback setting {key!r}.{did_you_mean(key, FEEDBACK_KEYS)} "
                f"Known: {', '.join(sorted(FEEDBACK_KEYS))}."
            )
        if key in ("pairs", "best_of"):
            check_int(f"{env_id} feedback.{key}", value)
        elif key == "max_steps" and value is not None:
            check_int(f"{env_id} feedback.max_steps", value)
        elif key in ("temperature", "rater_temperature", "tie_margin"):
            check_float(f"{env_id} feedback.{key}", value, 0.0)
    rm = feedback.get("rm", {})
    if not isinstance(rm, Mapping):
        raise ConfigError(f"{env_id} feedback.rm must be a table of RMConfig fields; got {rm!r}.")
    _check_overrides(env_id, "feedback.rm", rm, "rlft.agents.rm:RMConfig", _RM_OWNED)


def _check_overrides(
    env_id: str, stage: str, overrides: Mapping[str, Any], target: str, owned: frozenset[str]
) -> None:
    from rlft.errors import import_target

    cls = import_target(target)
    known = {f.name for f in dataclasses.fields(cls)} - owned
    for key in overrides:
        if key in owned:
            raise ConfigError(f"{env_id} {stage}.{key}: the study sets {key} itself; remove it from {stage}.")
        if key not in known:
            raise ConfigError(
                f"{env_id}: unknown {stage} setting {key!r}.{did_you_mean(key, known)} "
                f"Known: {', '.join(sorted(known))}."
            )


def multitask_methods(methods: Sequence[str]) -> tuple[str, ...]:
    """The ``methods`` a multi-task entry runs: those whose stages are ``bc`` alone."""
    from rlft.agents.study.methods import METHODS

    return tuple(m for m in methods if m in METHODS and METHODS[m].stages == ("bc",))


@dataclass(kw_only=True)
class StudyConfig(RunConfig):
    """A sweep: envs x demonstration counts x initialisations x methods x seeds, run as resumable cells.

    The seed is the first of n_seeds consecutive seeds; each seeds a cell's demonstrations, BC, RL and the
    scratch backbone's random weights. Evaluation uses eval_seed + i for episode i in every cell.
    """

    envs: tuple[StudyEnv, ...] = ()
    """The environments and their recipes ([[envs]] tables in TOML)."""
    methods: tuple[str, ...] = ("bc", "bc+rl", "rl")
    """Methods (see rlft.agents.study.METHODS): bc, bc+rl, rl (no demonstrations: demos = 0)."""
    inits: tuple[str, ...] = INITS
    """Backbone initialisations: pretrained, scratch."""
    n_seeds: int = 1
    """Seeds per cell: seed, seed + 1, ..."""
    workers: int = 1
    """Worker processes running cells in parallel (1: in this process)."""
    eval_seed: int = 100_000
    """First reset seed of the evaluation episodes (shared by every cell: paired tests)."""
    budget: str = "matched"
    """How rl is budgeted: matched (bc+rl's RL env steps + BC compute as env steps) or rl-stage."""
    ray: str | None = None
    """Run every cell (and demonstration collection) as a Ray task: "local" starts a local Ray (or joins
    the cluster RAY_ADDRESS names), else an address (auto, HOST:6379, ray://HOST:10001); workers then caps
    the tasks in flight. On several nodes the study folder must be on a file system every node mounts at
    the same path."""
    cell_cpus: float = 1.0
    """CPUs each Ray task reserves (with ray)."""
    cell_gpus: float = 0.0
    """GPUs each Ray task reserves (with ray; fractions share a GPU; device auto uses the task's GPU)."""
    cell_retries: int = 2
    """Reruns of a Ray task whose worker process or node died (with ray); a rerun resumes the cell."""
    cell_timeout: float = 86_400.0
    """Seconds a Ray task may take, waiting for resources included, before it is cancelled and reported
    as failed (with ray)."""

    DEFAULT_OUT: ClassVar[str] = "rlft-study"

    def validate(self) -> None:
        """Check every field; raise ConfigError naming the bad one."""
        from rlft.agents.study.methods import METHODS

        super().validate()
        if not self.envs:
            raise ConfigError("The study has no environment: add an [[envs]] table or pass --env-id ID.")
        for env in self.envs:
            if not isinstance(env, StudyEnv):
                raise ConfigError(f"envs must hold StudyEnv entries; got {type(env).__name__}.")
            env.validate()
        ids = [env.env_id for env in self.envs]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"envs lists an id twice: {ids}.")
        if not self.methods or not self.inits:
            raise ConfigError("methods and inits must each name at least one entry.")
        for method in self.methods:
            check_choice("method", method, METHODS)
        for env in self.envs:
            if env.multitask and not multitask_methods(self.methods):
                raise ConfigError(
                    f"{env.env_id} trains one policy on {len(env.task_ids)} envs, which only methods of the "
                    f"single stage bc do (RL trains on one env); methods {list(self.methods)} have none: "
                    "add bc to methods."
                )
        for init in self.inits:
            check_choice("init", init, INITS)
        check_int("n_seeds", self.n_seeds)
        check_int("workers", self.workers)
        check_int("eval_seed", self.eval_seed, 0)
        check_choice("budget", self.budget, BUDGET_RULES)
        if self.ray is not None and not isinstance(self.ray, str):
            raise ConfigError(f"ray must be an address string (or 'local'); got {self.ray!r}.")
        check_float("cell_cpus", self.cell_cpus, 0.0)
        check_float("cell_gpus", self.cell_gpus, 0.0)
        check_int("cell_retries", self.cell_retries, 0)
        if check_float("cell_timeout", self.cell_timeout, 0.0) <= 0:
            raise ConfigError(f"cell_timeout must be > 0 seconds; got {self.cell_timeout}.")

    @property
    def seeds(self) -> tuple[int, ...]:
        """The seeds of every cell."""
        return tuple(range(self.seed, self.seed + self.n_seeds))

    @property
    def out_path(self) -> Path:
        """The study folder (``out_dir``, default ``rlft-study``)."""
        return Path(self.out_dir or self.DEFAULT_OUT)


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(owner: str, name: str, hint: Any, value: Any) -> Any:
    """``value`` checked against the field type ``hint`` (TOML gives lists for tuples)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if type(None) in args:  # Optional[X]
        if value is None:
            return None
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return _coerce(owner, name, rest[0], value)
    if origin is tuple:
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            value = [value]  # a single entry for a list
        if not isinstance(value, Sequence) or isinstance(value, str):
            raise ConfigError(f"{owner}{name} must be a list; got {value!r}.")
        return tuple(_coerce(owner, f"{name}[]", args[0], v) for v in value)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{owner}{name} must be a table (mapping); got {value!r}.")
        return dict(value)
    kinds = tuple(t for t in (args or (hint,)) if t is not type(None))
    if bool in kinds and isinstance(value, bool):
        return value
    if int in kinds and isinstance(value, int) and not isinstance(value, bool):
        return value
    if float in kinds and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if str in kinds and isinstance(value, str):
        return value
    names = " or ".join(getattr(k, "__name__", str(k)) for k in kinds)
    raise ConfigError(f"{owner}{name} must be {names}; got {value!r}.")


def _build(cls: type, data: Mapping[str, Any], owner: str, skip: frozenset[str] = frozenset()) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{owner or 'the study'} must be a table; got {data!r}.")
    hints = _field_types(cls)
    known = {f.name for f in dataclasses.fields(cls)} - skip
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(
                f"Unknown study setting {owner}{key!r}.{did_you_mean(str(key), known)} "
                f"Known: {', '.join(sorted(known))}."
            )
        values[key] = _coerce(owner, key, hints[key], value)
    required = [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    missing = [name for name in required if name not in values]
    if missing:
        raise ConfigError(f"{owner or 'the study'} lacks {', '.join(missing)}.")
    return cls(**values)


def study_from_mapping(data: Mapping[str, Any], **overrides: Any) -> StudyConfig:
    """A :class:`StudyConfig` from a TOML-shaped mapping (``envs`` a list of tables), then ``overrides``.

    Raises:
        ConfigError: unknown keys, values of the wrong type, or an env table without env_id.
    """
    data = dict(data)
    envs_data = data.pop("envs", [])
    if not isinstance(envs_data, Sequence) or isinstance(envs_data, (str, Mapping)):
        raise ConfigError("envs must be a list of tables ([[envs]] in TOML).")
    envs = tuple(_build(StudyEnv, env, f"envs[{i}].") for i, env in enumerate(envs_data))
    config: StudyConfig = _build(StudyConfig, data, "", skip=frozenset({"envs"}))
    config = dataclasses.replace(config, envs=envs)
    return dataclasses.replace(config, **overrides) if overrides else config


def read_study_file(path: str | Path) -> dict[str, Any]:
    """The mapping a study TOML file holds (unchecked; :func:`study_from_mapping` checks it).

    Raises:
        ConfigError: the file is missing or not TOML.
    """
    tomllib = require("tomllib" if sys.version_info >= (3, 11) else "tomli", "reading study TOML files")
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"No study file at {path}; pass --config FILE.toml (see rlft study --help).")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path} is not valid TOML: {err}") from err
    return dict(data)


def load_study_file(path: str | Path, **overrides: Any) -> StudyConfig:
    """Read a study TOML file (see the module docstring), then apply ``overrides``.

    Raises:
        ConfigError: the file is missing, not TOML, or holds unknown keys / wrong types.
    """
    return study_from_mapping(read_study_file(path), **overrides)


WEB_FORMS: tuple[str, ...] = ("rlft/WebFormLogin-v0", "rlft/WebFormDropdown-v0", "rlft/WebFormCheckboxes-v0")
"""Form families the full preset also trains one at a time (beside the multi-task policy over all 14:
the paired ``tasks`` tests compare the two on these)."""

PRESETS: dict[str, dict[str, Any]] = {
    "quick": {
        # One cheap web env, two counts, both initialisations, every method, one seed: 10 cells. Budgets are
        # cut so the whole study fits a shared 2-core machine in under an hour.
        "methods": ["bc", "bc+rl", "rl"],
        "inits": ["pretrained", "scratch"],
        "n_seeds": 1,
        "workers": 2,
        "envs": [
            {
                "env_id": "rlft/WebFormLogin-v0",
                "demos": [3, 30],
                "eval_episodes": 30,
                "bc": {"steps": 150, "eval_every": 50, "checkpoint_every": 50},
                "rl": {
                    "env_steps": 512,
                    # The web recipe's RL step (2e-4) suits a BC policy that already succeeds ~75% of the
                    # time; these cells start from 3 or 30 demonstrations (or none) and get 512 env steps.
                    "lr": 1e-3,
                    "n_envs": 4,
                    "n_steps": 32,
                    "batch_size": 64,
                    "checkpoint_every": 256,
                },
                "rl_env_kwargs": {"max_steps": 15},
            }
        ],
    },
    "full": {
        # The README's study: both families, 1 / 10 / 100 / 1000 demonstrations on tabletop (as in
        # CLIPort's Table 1), seen (train) and unseen (test) colours, a multi-step task, two seeds (the
        # paired tests pool them: 2 x eval_episodes pairs per comparison).
        "methods": ["bc", "bc+rl", "rl"],
        "inits": ["pretrained", "scratch"],
        "n_seeds": 2,
        "workers": 2,
        "envs": [
            {"env_id": "rlft/WebShop-v0", "demos": [10, 30, 100, 300], "eval_episodes": 100},
            *({"env_id": env_id, "demos": [10, 30, 100], "eval_episodes": 100} for env_id in WEB_FORMS),
            # One policy over the 14 form families (demos per family), 50 test goals per family, with the
            # single-task cells' recipe (the same BC budget per policy).
            {"env_id": "all-forms", "demos": [10, 30, 100], "eval_episodes": 50},
            {
                "env_id": "rlft/TabletopPutBlockInBowl-v0",
                "demos": [1, 10, 100, 1000],
                "eval_splits": ["train", "test"],
                "eval_episodes": 200,
            },
            {
                "env_id": "rlft/TabletopStackBlocks-v0",
                "demos": [10, 100, 1000],
                "eval_splits": ["test"],
                "eval_episodes": 100,
            },
        ],
    },
}
"""The ``--preset`` studies, as TOML-shaped mappings (``rlft study --preset quick``)."""


def preset_config(name: str, **overrides: Any) -> StudyConfig:
    """The :data:`PRESETS` study ``name`` with ``overrides`` applied.

    Raises:
        UnknownNameError: unknown preset.
    """
    from rlft.errors import UnknownNameError, unknown_name_message

    if name not in PRESETS:
        raise UnknownNameError(unknown_name_message("study preset", name, PRESETS))
    return study_from_mapping(PRESETS[name], **overrides)


def _items(text: str | None) -> list[str] | None:
    return None if text is None else [part.strip() for part in text.split(",") if part.strip()]


@dataclass(kw_only=True)
class StudyArgs:
    """Run a study: envs x demonstration counts x pretrained/scratch x bc, bc+rl, rl x seeds, resumable.

    The settings come from --preset, then --config FILE.toml over it (its keys replace the preset's), then
    these flags. Re-running the same command resumes; results.csv, results.md, mcnemar.csv and plots/ are
    written into --out.
    """

    config: str | None = None
    """Study TOML file (see rlft.agents.study.config)."""
    preset: str | None = None
    """A built-in study: quick (2 cores, under an hour) or full (the README's results)."""
    out_dir: str | None = None
    """Study folder (none: rlft-study); re-running resumes it."""
    workers: int | None = None
    """Worker processes running cells in parallel, or Ray tasks in flight with --ray (none: the study's,
    else 1)."""
    seed: int | None = None
    """First seed (none: the study's, else 0)."""
    n_seeds: int | None = None
    """Seeds per cell (none: the study's, else 1)."""
    env_id: str | None = None
    """Comma-separated env ids (or multi-task entry names such as all-forms): keep only these envs (new
    ones get default recipes)."""
    demos: str | None = None
    """Comma-separated demonstration counts for every env, e.g. 1,10,100."""
    methods: str | None = None
    """Comma-separated methods: bc, bc+rl, rl."""
    inits: str | None = None
    """Comma-separated initialisations: pretrained, scratch."""
    backbone: str | None = None
    """Pretrained backbone of every env (scratch uses scratch:<backbone>)."""
    eval_episodes: int | None = None
    """Evaluation episodes per split for every env."""
    budget: str | None = None
    """How rl is budgeted: matched or rl-stage (none: the study's, else matched)."""
    device: str | None = None
    """auto, cpu, cuda or cuda:N (none: the study's, else auto)."""
    precision: str | None = None
    """fp32, bf16 or fp16 (none: the study's, else fp32)."""
    num_threads: int | None = None
    """torch CPU threads per worker (none: the study's, else 1)."""
    progress: bool | None = None
    """Progress bar over the study's tasks: on, off, or auto (on when stderr is a terminal)."""
    ray: str | None = None
    """Run cells as Ray tasks: --ray alone starts a local Ray (or joins RAY_ADDRESS), --ray ADDRESS joins a
    cluster (auto, HOST:6379, ray://HOST:10001); the study folder must be visible on every node."""
    cell_cpus: float | None = None
    """CPUs each Ray task reserves (none: the study's, else 1)."""
    cell_gpus: float | None = None
    """GPUs each Ray task reserves (none: the study's, else 0)."""
    cell_retries: int | None = None
    """Reruns of a Ray task whose worker or node died (none: the study's, else 2)."""
    cell_timeout: float | None = None
    """Seconds a Ray task may take before it is cancelled (none: the study's, else 86400)."""
    plan: bool = False
    """Only print the cells, demonstrations and nominal budgets the study would run, then stop."""

    def to_study(self) -> StudyConfig:
        """The :class:`StudyConfig` these flags describe.

        Raises:
            ConfigError: no envs at all, unknown keys in the file, or an unparsable list.
            UnknownNameError: unknown preset.
        """
        data: dict[str, Any] = {}
        if self.preset is not None:
            from rlft.errors import UnknownNameError, unknown_name_message

            if self.preset not in PRESETS:
                raise UnknownNameError(unknown_name_message("study preset", self.preset, PRESETS))
            data = json_copy(PRESETS[self.preset])
        if self.config is not None:
            data.update(read_study_file(self.config))  # its keys (envs too) replace the preset's
        envs: list[dict[str, Any]] = list(data.get("envs") or [])
        ids = _items(self.env_id)
        if ids is not None:
            known = {e["env_id"]: e for e in envs}
            envs = [known.get(i, {"env_id": i}) for i in ids]
        for env in envs:
            if self.demos is not None:
                try:
                    env["demos"] = [int(d) for d in _items(self.demos) or []]
                except ValueError as err:
                    raise ConfigError(f"--demos {self.demos!r}: write counts such as 1,10,100.") from err
            if self.backbone is not None:
                env["backbone"] = self.backbone
            if self.eval_episodes is not None:
                env["eval_episodes"] = self.eval_episodes
        data["envs"] = envs
        scalars = {
            "workers": self.workers,
            "seed": self.seed,
            "n_seeds": self.n_seeds,
            "budget": self.budget,
            "device": self.device,
            "precision": self.precision,
            "num_threads": self.num_threads,
            "out_dir": self.out_dir,
            "ray": self.ray,
            "cell_cpus": self.cell_cpus,
            "cell_gpus": self.cell_gpus,
            "cell_retries": self.cell_retries,
            "cell_timeout": self.cell_timeout,
        }
        data.update({k: v for k, v in scalars.items() if v is not None})
        for name in ("methods", "inits"):
            values = _items(getattr(self, name))
            if values is not None:
                data[name] = values
        if self.progress is not None:
            data["progress"] = self.progress
        return study_from_mapping(data)


def json_copy(data: Any) -> Any:
    """A deep copy of plain JSON-like data (presets stay untouched)."""
    import json

    return json.loads(json.dumps(data))
