"""Running a study: shared demonstrations, resumable cells in worker processes, the budget rule, the outputs.

The study folder::

    study.json                   the study's settings (informational)
    demos/<Env>/n<count>_s<seed>/ expert demonstrations shared by every cell with that env, count, seed
    cells/<Env>/<method>/<init>/d<demos>_s<seed>/
        cell.json                the cell's resolved settings and their hash (resume guard)
        stages.json              one record per finished stage (policy folder, steps, seconds)
        bc/ rl/                  the stages' run folders (checkpoints: an interrupted stage resumes)
        eval/<split>.json        per-episode outcomes on the held-out goals (seeds, successes, returns);
                                 a multi-task entry's cell: eval/<Env>/<split>.json for each of its ids
        result.json              written last: the cell is finished
    results.csv results.md mcnemar.csv plots/   (see :mod:`rlft.agents.study.analysis`)

A killed study resumes where it stopped: finished demonstrations and cells are reused, a cell's finished
stages are skipped and an interrupted one continues from its checkpoint. A cell folder whose settings
differ from the study's (a changed budget, say) is never reused: :func:`run_study` raises
:class:`rlft.errors.ConfigError` listing the differences before anything runs.

Work is a small dependency graph of tasks (collect -> cells; ``bc`` cells -> the ``bc+rl`` cells that
fine-tune their BC policy, see :func:`stage_prefix_cell`; ``bc+rl`` cells -> the ``rl`` cells whose
budget they fix), driven through any :class:`concurrent.futures.Executor`: the default is a process pool
with the ``spawn`` start method (``workers``), or this process when ``workers == 1``. With ``ray`` set,
every task is a Ray task (:class:`rlft.envs.ray_vector.RayExecutor`) reserving ``cell_cpus`` CPUs and
``cell_gpus`` GPUs, ``workers`` of them in flight, rerun up to ``cell_retries`` times when its worker dies
and cancelled after ``cell_timeout`` seconds. The cell folders stay the state: tasks read and write them
where the driver does (on several nodes, a file system every node mounts at the same path; a task that
cannot see the study folder fails with a ConfigError instead of writing elsewhere), so a killed Ray study
resumes like a local one, and a study may resume on Ray what a local run started. Another scheduler plugs
in by passing its own executor to :func:`run_study`; every task is a picklable top-level function call.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import functools
import json
import logging
import multiprocessing
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlft.agents.config import provenance
from rlft.agents.study.cells import Cell, DemoSet, demo_seed, env_family, expand_cells, fair_rl_steps
from rlft.agents.study.config import StudyConfig
from rlft.errors import ConfigError, DatasetError, atomic_write_text

__all__ = [
    "STAGES",
    "CellRun",
    "InlineExecutor",
    "StudyResult",
    "plan_study",
    "register_stage",
    "run_cell",
    "run_study",
    "stage_prefix_cell",
]

logger = logging.getLogger(__name__)


@dataclass
class CellRun:
    """What a stage function gets: the cell, its folder, its data, the run settings, the budget."""

    cell: Cell
    folder: Path
    demos_dirs: tuple[Path, ...]
    """The cell's demonstration datasets, one per task (none for methods without demonstrations)."""
    settings: dict[str, Any]
    """seed-independent run settings: device, precision, num_threads, progress."""
    rl_env_steps: int | None = None
    """Env steps of the RL stage fixed by the budget rule (``None``: the recipe's)."""
    policy_dir: Path | None = None
    """The policy the previous stage produced (``None`` before the first stage)."""
    reward_model: Path | None = None
    """The reward model an ``rm`` stage trained: evaluation then searches (best-of-N) with it."""

    @property
    def demos_dir(self) -> Path | None:
        """The one demonstration dataset of a single-task cell (``None``: none, or a multi-task cell)."""
        return self.demos_dirs[0] if len(self.demos_dirs) == 1 else None


StageFn = Callable[[CellRun], dict[str, Any]]
"""A stage: train (or search) from ``run.policy_dir`` and return a JSON record with ``policy_dir``."""

STAGES: dict[str, StageFn] = {}
"""Stage name -> function, for :attr:`rlft.agents.study.Method.stages`."""


def register_stage(name: str, fn: StageFn, *, overwrite: bool = False) -> StageFn:
    """Make ``fn`` the stage ``name`` (a top-level function: worker processes import it by reference).

    Raises:
        ConfigError: the name is taken by another function and ``overwrite`` is off.
    """
    if name in STAGES and STAGES[name] is not fn and not overwrite:
        raise ConfigError(f"A study stage {name!r} is already registered; pass overwrite=True.")
    STAGES[name] = fn
    return fn


def _policy_kwargs(cell: Cell) -> dict[str, Any]:
    """The recipe's policy settings, and a scratch backbone's random weights seeded by the cell's seed.

    The recipe's settings are its BC stage's (the web scorer, for one): every method of a study builds the
    same architecture, RL from scratch included.
    """
    return _seed_scratch(cell, cell.recipe["bc"].get("policy_kwargs", {}))


def _seed_scratch(cell: Cell, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` (PolicyConfig or RewardModelConfig fields) with a scratch cell's backbone seeded by it."""
    kwargs = dict(kwargs)
    if cell.init == "scratch":
        kwargs["backbone_kwargs"] = {**kwargs.get("backbone_kwargs", {}), "init_seed": cell.seed}
    return kwargs


def _timing(done: int, resumed_from: int, seconds: float) -> dict[str, Any]:
    """A stage's wall time; a resumed stage measured only its remaining steps: extrapolate to the whole."""
    new = done - resumed_from
    full = seconds * done / new if new > 0 else seconds
    return {"resumed_from": resumed_from, "seconds": seconds, "seconds_full": full}


def _stage_bc(run: CellRun) -> dict[str, Any]:
    """Behaviour cloning on the cell's demonstrations."""
    from rlft.agents.bc import BCConfig, train_bc

    cell = run.cell
    if not run.demos_dirs:
        raise ConfigError(f"{cell.key}: the bc stage needs demonstrations (demos >= 1).")
    result = train_bc(
        BCConfig(
            dataset=",".join(map(str, run.demos_dirs)),  # a multi-task cell's datasets, mixed
            out_dir=str(run.folder / "bc"),
            backbone=cell.backbone,
            finetune=cell.finetune,
            policy_kwargs=_policy_kwargs(cell),
            seed=cell.seed,
            **run.settings,
            **{k: v for k, v in cell.recipe["bc"].items() if k != "policy_kwargs"},
        )
    )
    return {
        "policy_dir": str(result.policy_dir),
        "steps": result.steps,
        **_timing(result.steps, result.resumed_from, result.seconds),
        "metrics": result.metrics,
    }


def _stage_rl(run: CellRun) -> dict[str, Any]:
    """PPO / MaskablePPO: from the previous stage's policy (anchored to the demonstrations) or fresh."""
    from rlft.agents.rl import RLConfig, train_rl

    cell, recipe = run.cell, run.cell.recipe
    overrides = dict(recipe["rl"])
    if run.rl_env_steps is not None:
        overrides["env_steps"] = run.rl_env_steps
    if run.demos_dir is None or run.policy_dir is None:
        overrides["anchor"] = "none"  # nothing to stay close to
    anchored = overrides.get("anchor", "bc") == "bc"
    settings = dict(run.settings)
    if settings.get("precision") == "fp16":
        settings["precision"] = "fp32"  # SB3's update has no fp16 loss scaling
    result = train_rl(
        RLConfig(
            env_id=cell.env_id,
            split=cell.env.train_split,
            env_kwargs={**recipe["env_kwargs"], **recipe["rl_env_kwargs"]},
            policy=str(run.policy_dir) if run.policy_dir is not None else None,
            backbone=cell.backbone,
            finetune=cell.finetune,
            policy_kwargs=_policy_kwargs(cell),
            out_dir=str(run.folder / "rl"),
            anchor_dataset=str(run.demos_dir) if anchored and run.demos_dir is not None else None,
            seed=cell.seed,
            **settings,
            **overrides,
        )
    )
    timing = _timing(result.timesteps, result.resumed_from, result.seconds)
    new = result.timesteps - result.resumed_from
    return {
        "policy_dir": str(result.policy_dir),
        "env_steps": result.timesteps,
        **timing,
        "steps_per_s": new / result.seconds if new > 0 and result.seconds > 0 else None,
        "metrics": result.metrics,
    }


def _run_config(run: CellRun) -> Any:
    """The cell's seed and the study's device, precision, threads and progress as a RunConfig."""
    from rlft.agents.config import RunConfig

    return RunConfig(seed=run.cell.seed, **run.settings)


def _stage_rm(run: CellRun) -> dict[str, Any]:
    """Oracle comparisons of the previous stage's policy's samples (train goals), a reward model on them.

    The reward model has the cell's backbone (random weights, seeded by the cell, for ``scratch``), so a
    scratch cell searches with a scratch judge. The record keeps the policy it compared, for the search.
    """
    from rlft.agents.feedback import compare_stage, rm_stage

    cell, settings = run.cell, run.cell.recipe["feedback"]
    if run.policy_dir is None:
        raise ConfigError(f"{cell.key}: the rm stage compares a policy's samples; put bc before it.")
    config = _run_config(run)
    t0 = time.perf_counter()
    compared = compare_stage(
        cell.env_id,
        cell.env.train_split,
        run.policy_dir,
        run.folder / "comparisons",
        settings,
        config,
        max_steps=settings["max_steps"],
        progress=bool(run.settings.get("progress")),
    )
    rm = {**settings["rm"], "reward_kwargs": _seed_scratch(cell, settings["rm"].get("reward_kwargs", {}))}
    model = rm_stage(
        run.folder / "comparisons",
        run.folder / "rm",
        cell.backbone,
        {**settings, "rm": rm},
        config,
        progress=bool(run.settings.get("progress")),
    )
    seconds = time.perf_counter() - t0
    return {
        "policy_dir": str(run.policy_dir),
        "reward_model": str(model.model_dir),
        "pairs": compared.pairs,
        "compare_episodes": 2 * compared.pairs,
        "rm_steps": model.steps,
        "rm_accuracy": model.heldout_accuracy,
        "seconds": seconds,
        "seconds_full": seconds,
    }


register_stage("bc", _stage_bc)
register_stage("rl", _stage_rl)
register_stage("rm", _stage_rm)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, indent=2, default=str))


def _differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return out


def check_folder(folder: Path, marker: str, spec: dict[str, Any], what: str) -> None:
    """Refuse to reuse ``folder`` when its ``marker`` file records other settings than ``spec``.

    Raises:
        ConfigError: listing the differing settings and how to proceed.
    """
    stored = _read_json(folder / marker)
    if isinstance(stored, dict) and stored.get("spec") != spec:
        diffs = _differences(stored.get("spec") or {}, spec)
        raise ConfigError(
            f"{folder} holds a {what} run with other settings ({'; '.join(diffs[:6])}). Reusing it would mix "
            "them: pass another --out for the new study, repeat the original settings, or delete that folder."
        )


def collect_demo_set(demo_set: DemoSet, folder: Path, settings: dict[str, Any]) -> dict[str, Any]:
    """Record ``demo_set`` into ``folder`` once (a finished dataset with the same settings is reused)."""
    from rlft.agents.collect import CollectConfig, run_collect
    from rlft.demos.dataset import DemoDataset

    spec = demo_set.spec()
    check_folder(folder, "demoset.json", spec, "demonstration")
    # One spelling of the path whether the set was recorded now or earlier (the collector returns it
    # resolved): the training stages record it, and a resumed stage refuses another dataset path.
    path = (folder / "dataset").resolve()
    if isinstance(_read_json(folder / "demoset.json"), dict):
        try:
            dataset = DemoDataset(path)
            return {
                "path": str(path),
                "episodes": dataset.total_episodes,
                "steps": dataset.total_steps,
            }
        except DatasetError:
            logger.info("recording %s again (unreadable)", folder)
    t0 = time.perf_counter()
    result = run_collect(
        CollectConfig(
            env_id=demo_set.env_id,
            episodes=demo_set.count,
            out_dir=str(path),
            split=demo_set.split,
            seed=demo_seed(demo_set.seed),
            env_kwargs=dict(demo_set.env_kwargs),
            overwrite=True,
            device=settings.get("device", "auto"),
            progress=settings.get("progress", False),
        )
    )
    record = {"path": str(path), "episodes": result.kept, "steps": result.steps}
    _write_json(folder / "demoset.json", {"spec": spec, **record, "seconds": time.perf_counter() - t0})
    return record


def _evaluate(run: CellRun, env_id: str, split: str) -> dict[str, Any]:
    """Evaluate the cell's policy on ``env_id``'s ``split`` (per-episode outcomes kept: paired tests)."""
    from rlft.agents.evaluate import PolicyAgent, evaluate_agent
    from rlft.agents.policy_io import load_agent_policy

    cell, recipe = run.cell, run.cell.recipe
    if run.policy_dir is None:
        raise ConfigError(f"{cell.key}: no stage produced a policy to evaluate.")
    settings = run.settings
    policy = load_agent_policy(run.policy_dir, device=settings.get("device", "auto"), progress=False)
    deterministic = not recipe["sample"] and run.reward_model is None  # best-of-N samples its N episodes
    agent = PolicyAgent(policy, cell.method, deterministic, settings.get("precision", "fp32"))
    t0 = time.perf_counter()
    if run.reward_model is not None:
        return {**_search(run, run.reward_model, agent, env_id, split), "seconds": time.perf_counter() - t0}
    # Every cell is evaluated with the recipe's env kwargs (not the RL stage's shorter episodes).
    result = evaluate_agent(
        agent,
        env_id,
        split=split,
        episodes=recipe["eval_episodes"],
        seed=recipe["eval_seed"],
        max_steps=recipe["eval_max_steps"],
        env_kwargs=dict(recipe["env_kwargs"]),
        progress=settings.get("progress", False),
    )
    return {**dataclasses.asdict(result), "seconds": time.perf_counter() - t0}


def _search(run: CellRun, reward_model_dir: Path, agent: Any, env_id: str, split: str) -> dict[str, Any]:
    """Best-of-N on the evaluation goals: the reward model's pick per goal is the cell's outcome.

    The record is the pick's per-episode outcomes at the largest N (what the CSV and the paired tests
    read), the oracle's pick at that N (the ceiling) and the whole curve (N = 1, 4, 16, 64 up to N).
    """
    from rlft.agents.search import best_of_n
    from rlft.policies.reward import load_reward_model

    recipe = run.cell.recipe
    feedback = recipe["feedback"]
    device = _run_config(run).torch_device()
    reward_model = load_reward_model(reward_model_dir, device=device, progress=False)
    n = int(feedback["best_of"])
    curve = best_of_n(
        agent,
        reward_model,
        env_id,
        best_of=n,
        goals=recipe["eval_episodes"],
        seed=recipe["eval_seed"],
        split=split,
        max_steps=feedback["max_steps"],
        env_kwargs=dict(recipe["env_kwargs"]),
        progress=bool(run.settings.get("progress")),
    )
    return {
        **dataclasses.asdict(curve.rm[n]),
        "best_of": n,
        "oracle": dataclasses.asdict(curve.oracle[n]),
        "curve": curve.to_dict(),
    }


def run_cell(
    cell: Cell,
    folder: Path,
    demos: Sequence[dict[str, Any]] | dict[str, Any] | None,
    settings: dict[str, Any],
    rl_env_steps: int | None = None,
    shared: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run (or resume, or reuse) one cell in ``folder``; returns its ``result.json`` record.

    Args:
        cell: the cell.
        folder: its run folder.
        demos: the records :func:`collect_demo_set` returned for its demonstrations, one per task (a
            single record, or ``None`` for none, also do).
        settings: device, precision, num_threads, progress of every stage.
        rl_env_steps: the budget rule's env steps for the RL stage (``None``: the recipe's). A cell that
            started earlier keeps the budget it started with.
        shared: finished stage records of another cell with the same stages' settings (see
            :func:`stage_prefix_cell`): a stage found here and not yet run by this cell is taken as done
            (its policy folder stays in the other cell). A stage this cell already ran is kept.

    Raises:
        ConfigError: the folder holds a cell with other settings.
    """
    spec, digest = cell.spec(), cell.spec_hash()
    check_folder(folder, "cell.json", spec, "study cell")
    done = _read_json(folder / "result.json")
    if isinstance(done, dict) and done.get("hash") == digest:
        return done
    stored = _read_json(folder / "cell.json")
    if isinstance(stored, dict) and stored.get("rl_env_steps") is not None:
        rl_env_steps = int(stored["rl_env_steps"])
    _write_json(folder / "cell.json", {"spec": spec, "hash": digest, "rl_env_steps": rl_env_steps})

    demo_records = [demos] if isinstance(demos, dict) else list(demos or [])
    run = CellRun(cell, folder, tuple(Path(d["path"]) for d in demo_records), settings, rl_env_steps)
    records: dict[str, Any] = _read_json(folder / "stages.json") or {}
    for stage in cell.stages:
        if stage not in records and shared and stage in shared:
            records[stage] = shared[stage]
            _write_json(folder / "stages.json", records)
        if stage not in records:
            logger.info("%s: stage %s", cell.key, stage)
            records[stage] = STAGES[stage](run)
            _write_json(folder / "stages.json", records)
        run.policy_dir = Path(records[stage]["policy_dir"])
        if records[stage].get("reward_model"):
            run.reward_model = Path(records[stage]["reward_model"])
    by_task: dict[str, dict[str, Any]] = {}
    for task in cell.tasks:
        for split in cell.recipe["eval_splits"]:
            name = f"{task.rsplit('/', 1)[-1]}/{split}.json" if cell.env.multitask else f"{split}.json"
            stored_eval = _read_json(folder / "eval" / name)
            if not isinstance(stored_eval, dict):
                stored_eval = _evaluate(run, task, split)
                _write_json(folder / "eval" / name, stored_eval)
            by_task.setdefault(task, {})[split] = stored_eval
    evals = {} if cell.env.multitask else by_task[cell.env_id]
    rl = records.get("rl", {})
    result = {
        "key": cell.key,
        "hash": digest,
        "env_id": cell.env_id,
        "demos": cell.demos,
        "init": cell.init,
        "method": cell.method,
        "seed": cell.seed,
        "backbone": cell.backbone,
        "finetune": cell.finetune,
        "env_steps": int(rl.get("env_steps", 0)),
        "demo_steps": sum(int(d["steps"]) for d in demo_records),
        "bc_steps": int(records.get("bc", {}).get("steps", 0)),
        "wall_s": sum(float(r.get("seconds_full", r.get("seconds", 0.0))) for r in records.values()),
        "eval_s": sum(float(e.get("seconds", 0.0)) for t in by_task.values() for e in t.values()),
        "rl_env_steps_budget": rl_env_steps,
        "stages": records,
        "evals": evals,
        # A multi-task cell: every id's evaluations (the outputs give each id its own rows).
        **({"tasks": by_task} if cell.env.multitask else {}),
    }
    _write_json(folder / "result.json", result)
    return result


class InlineExecutor(cf.Executor):
    """An executor that runs each task at submission, in this process (``workers == 1``, debugging)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        """Run ``fn(*args, **kwargs)`` now; the future holds its result or its exception."""
        future: cf.Future[Any] = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as err:  # the driver records the failure
            future.set_exception(err)
        return future


@dataclass
class _Task:
    key: str
    fn: Callable[..., Any]
    args: Callable[[dict[str, Any]], tuple[Any, ...]]
    """The call's arguments, from the results of ``deps`` (run when they are all done)."""
    deps: tuple[str, ...] = ()


def _drive(
    tasks: list[_Task], executor: cf.Executor, on_done: Callable[[str, bool], None]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Run ``tasks`` as their dependencies finish; returns (results, errors) by task key."""
    pending = {t.key: t for t in tasks}
    running: dict[cf.Future[Any], str] = {}
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    while pending or running:
        for key, task in list(pending.items()):
            failed = [d for d in task.deps if d in errors]
            if failed:
                errors[key] = f"not run: {failed[0]} failed"
                del pending[key]
                on_done(key, False)
            elif all(d in results for d in task.deps):
                del pending[key]
                try:
                    running[executor.submit(task.fn, *task.args(results))] = key
                except Exception as err:  # a budget that cannot be computed, a broken pool
                    errors[key] = f"{type(err).__name__}: {err}"
                    on_done(key, False)
        if not running:
            if pending:  # unreachable with the graphs built here: every dependency is a task
                raise ConfigError(f"study tasks wait on missing dependencies: {sorted(pending)}")
            break
        finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
        for future in finished:
            key = running.pop(future)
            try:
                results[key] = future.result()
                on_done(key, True)
            except Exception as err:
                errors[key] = f"{type(err).__name__}: {err}"
                logger.error("study task %s failed: %s", key, errors[key])
                on_done(key, False)
    return results, errors


@dataclass
class StudyResult:
    """What :func:`run_study` produced."""

    out_dir: Path
    """The study folder."""
    cells: list[dict[str, Any]]
    """The finished cells' records (``result.json``)."""
    failed: dict[str, str] = field(default_factory=dict)
    """Task key -> error, for the cells (or demonstrations) that did not finish."""
    seconds: float = 0.0
    """Wall time of this call."""
    table: str = ""
    """The markdown table (``results.md``)."""
    outputs: dict[str, Path] = field(default_factory=dict)
    """Output files by name (results_csv, results_md, mcnemar_csv, plots ...)."""


def _rl_budget(cell: Cell, refs: list[dict[str, Any]]) -> int:
    """The ``matched`` RL budget of an ``rl`` cell from its finished ``bc+rl`` reference cells."""
    from rlft.agents.rl import RLConfig

    rl = cell.recipe["rl"]
    defaults = {f.name: f.default for f in dataclasses.fields(RLConfig)}
    rollout = int(rl.get("n_envs", defaults["n_envs"])) * int(rl.get("n_steps", defaults["n_steps"]))
    budgets = []
    for ref in refs:
        bc, stage = ref["stages"]["bc"], ref["stages"]["rl"]
        speed = stage.get("steps_per_s")
        if speed is None:
            raise ConfigError(
                f"{ref['key']} recorded no RL speed; delete its stages.json to measure it again."
            )
        budgets.append(
            fair_rl_steps(int(stage["env_steps"]), float(bc["seconds_full"]), float(speed), rollout)
        )
    return max(budgets)


def _fixed(args: tuple[Any, ...], results: dict[str, Any]) -> tuple[Any, ...]:
    return args


def _cell_args(
    cell: Cell,
    folder: Path,
    settings: dict[str, Any],
    refs: list[str],
    prefix: str | None,
    results: dict[str, Any],
) -> tuple[Any, ...]:
    """``run_cell``'s arguments, once its demonstrations, budget references and shared stages are done."""
    demos = [results[f"demos/{d.folder}"] for d in cell.demo_sets]
    budget = _rl_budget(cell, [results[r] for r in refs]) if refs else None
    shared = None
    if prefix is not None:
        shared = {
            name: {**record, "shared_from": prefix} for name, record in results[prefix]["stages"].items()
        }
    return (cell, folder, demos, settings, budget, shared)


def stage_prefix_cell(cell: Cell, cells: list[Cell]) -> Cell | None:
    """The cell whose finished stages ``cell`` reuses, or ``None``.

    That is the cell with the same env, count, init and seed whose method's stages are a proper prefix of
    ``cell``'s (``bc`` for ``bc+rl``), the longest such. Its stages were trained with the same recipe,
    data and seed, so ``bc+rl`` fine-tunes the very policy its ``bc`` cell evaluated: the BC -> BC+RL
    comparison is paired on one policy, and the study trains each BC policy once.
    """
    group = (cell.env_id, cell.demos, cell.init, cell.seed)
    prefixes = [
        other
        for other in cells
        if (other.env_id, other.demos, other.init, other.seed) == group
        and len(other.stages) < len(cell.stages)
        and cell.stages[: len(other.stages)] == other.stages
    ]
    return max(prefixes, key=lambda other: len(other.stages), default=None)


def _cell_tasks(config: StudyConfig, cells: list[Cell], settings: dict[str, Any]) -> Iterator[_Task]:
    out = config.out_path
    demo_sets = {d for c in cells for d in c.demo_sets}
    for ds in sorted(demo_sets, key=lambda d: (d.env_id, d.count, d.seed)):
        folder = out / "demos" / ds.folder
        run = functools.partial(_in_study, out, collect_demo_set)
        yield _Task(f"demos/{ds.folder}", run, functools.partial(_fixed, (ds, folder, settings)))
    by_group: dict[tuple[str, str, int], list[Cell]] = {}
    for c in cells:
        if c.method == "bc+rl":
            by_group.setdefault((c.env_id, c.init, c.seed), []).append(c)
    for c in cells:
        folder = out / "cells" / c.key
        deps: list[str] = [f"demos/{d.folder}" for d in c.demo_sets]
        refs: list[str] = []
        if c.method == "rl" and config.budget == "matched":
            refs = [f"cells/{r.key}" for r in by_group.get((c.env_id, c.init, c.seed), [])]
        base = stage_prefix_cell(c, cells)
        prefix = f"cells/{base.key}" if base is not None else None
        deps += [prefix] if prefix is not None else []
        args = functools.partial(_cell_args, c, folder, settings, refs, prefix)
        yield _Task(f"cells/{c.key}", functools.partial(_in_study, out, run_cell), args, (*deps, *refs))


def _in_study(out: Path, fn: Callable[..., Any], *args: Any) -> Any:
    """Run a study task where the study folder ``out`` is visible (on another Ray node it may not be).

    Raises:
        ConfigError: this machine does not see ``out/study.json`` (the driver wrote it before any task).
    """
    if not (out / "study.json").is_file():
        import socket

        raise ConfigError(
            f"The study folder {out} is not visible on {socket.gethostname()}: on a multi-node Ray cluster "
            "put --out on a file system every node mounts at the same path (NFS, a cluster file system)."
        )
    stop = _WORKER_STOP
    if stop is None:  # this process is not a study pool worker: the study process itself, or a Ray task
        return fn(*args)
    stop.in_task = True
    try:
        if stop.requested:
            raise KeyboardInterrupt("the study was interrupted before this task started; run it again")
        return fn(*args)
    except KeyboardInterrupt:
        stop.requested = True  # a training stage's own handler took the signal: start nothing after it
        raise
    finally:
        stop.in_task = False


class _WorkerStop:
    """A study pool worker's interrupt state; its SIGINT handler is :meth:`handle`.

    The study process passes one SIGINT to each worker when it is interrupted, then cancels the cells
    not yet handed out; a cell already queued to a worker is not cancellable, and a worker that started
    it would keep the study process waiting at exit for the whole cell. So once interrupted a worker
    starts nothing (:func:`_in_study` raises ``KeyboardInterrupt`` at once), a task it is running stops
    (training stages checkpoint first: they install their own handler while they train), and an idle
    worker stays alive (a ``KeyboardInterrupt`` outside a task would kill it, and a dead worker makes the
    pool terminate the others, maybe mid-checkpoint).
    """

    def __init__(self) -> None:
        self.requested = False
        self.in_task = False

    def handle(self, signum: int, frame: Any) -> None:
        """SIGINT: remember it; interrupt the running task, if any."""
        self.requested = True
        if self.in_task:
            raise KeyboardInterrupt


_WORKER_STOP: _WorkerStop | None = None
"""Set in study pool workers by :func:`_exit_with_parent`; ``None`` in every other process."""


def _exit_with_parent(parent: int, interval: float = 1.0) -> None:
    """Worker initializer: end this worker when the study process is gone (killed, not shut down).

    A pool worker would otherwise finish its cell unattended and write into a folder a new study run
    may be using. Stopping abruptly is safe: every checkpoint and record is written atomically, and the
    next run resumes the cell from its last checkpoint.

    The worker also leaves the study's process group, so a Ctrl-C in the terminal reaches the study
    process alone, which passes exactly one interrupt on to each worker (:func:`_interrupt_workers`): the
    same stop whether the signal came from a terminal or was sent to the study's pid only. What a worker
    does with it is :class:`_WorkerStop`'s (installed even where SIGINT was inherited ignored, as in a
    study started as a background job).
    """
    import os
    import signal
    import threading

    global _WORKER_STOP
    os.setpgid(0, 0)
    _WORKER_STOP = _WorkerStop()
    signal.signal(signal.SIGINT, _WORKER_STOP.handle)

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, name="rlft-study-parent-watch", daemon=True).start()


def _interrupt_workers(pool: cf.Executor) -> None:
    """Send SIGINT to the worker processes of a process pool (nothing for other executors).

    Each training stage checkpoints at its next step boundary and stops (:mod:`rlft.agents.interrupt`);
    the rerun resumes it. Without this, an interrupted study process would wait at exit for its workers
    to finish their cells.
    """
    import os
    import signal

    processes = getattr(pool, "_processes", None) if isinstance(pool, cf.ProcessPoolExecutor) else None
    for process in list((processes or {}).values()):
        with contextlib.suppress(OSError, ValueError):  # already gone
            if process.pid is not None:
                os.kill(process.pid, signal.SIGINT)


def _default_executor(config: StudyConfig) -> cf.Executor:
    import os

    workers = config.workers
    if config.ray is not None:
        from rlft.envs.ray_vector import RayExecutor

        return RayExecutor(
            num_cpus=config.cell_cpus,
            num_gpus=config.cell_gpus,
            max_retries=config.cell_retries,
            max_in_flight=workers,
            timeout_s=config.cell_timeout,
            address=config.ray,
        )
    if workers == 1:
        return InlineExecutor()
    return cf.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_exit_with_parent,
        initargs=(os.getpid(),),
    )


def run_study(config: StudyConfig, executor: cf.Executor | None = None) -> StudyResult:
    """Run (or resume) the study ``config`` describes and write its outputs; what ``rlft study`` runs.

    Args:
        config: the study.
        executor: where tasks run (default: Ray tasks with ``config.ray``, else ``config.workers`` spawned
            processes, or this process for 1).
            Any :class:`concurrent.futures.Executor` whose workers can import rlft works; it is shut down
            only when created here.

    Raises:
        ConfigError: invalid settings, or a study folder holding cells run with other settings.
    """
    from rlft.agents.study.analysis import write_outputs
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    config.validate()
    if config.budget == "matched" and "rl" in config.methods and "bc+rl" not in config.methods:
        raise ConfigError(
            "budget='matched' sizes rl from bc+rl's stages: add bc+rl to methods or use rl-stage."
        )
    out = config.out_path
    families = {env.env_id: env_family(env) for env in config.envs}
    cells = expand_cells(config, families)
    problems = []
    folders = [(out / "cells" / c.key, "cell.json", c.spec(), "study cell") for c in cells]
    demo_sets = {d for c in cells for d in c.demo_sets}
    folders += [(out / "demos" / d.folder, "demoset.json", d.spec(), "demonstration") for d in demo_sets]
    for folder, marker, spec, what in folders:
        try:
            check_folder(folder, marker, spec, what)
        except ConfigError as err:
            problems.append(str(err))
    if problems:
        raise ConfigError(
            f"{len(problems)} folder(s) of {out} were run with other settings; the first: {problems[0]}"
        )
    _write_json(out / "study.json", {"config": config.to_dict(), "families": families, **provenance()})
    settings = {
        "device": config.device,
        "precision": config.precision,
        "num_threads": config.num_threads,
        # Several workers' bars would garble one terminal: the study's own bar counts cells instead.
        "progress": config.show_progress and config.workers == 1 and config.ray is None,
    }
    tasks = list(_cell_tasks(config, cells, settings))
    bar = tqdm(total=len(tasks), desc="study", unit="task", disable=not config.show_progress)

    def on_done(key: str, ok: bool) -> None:
        bar.update(1)
        bar.set_postfix_str(("done " if ok else "FAILED ") + key[-40:])

    owned = executor is None
    pool = executor or _default_executor(config)
    try:
        results, errors = _drive(tasks, pool, on_done)
    except BaseException:
        # Interrupted: the workers checkpoint and stop; do not start or wait for other cells.
        if owned:
            _interrupt_workers(pool)
            pool.shutdown(wait=False, cancel_futures=True)
        raise
    else:
        if owned:
            pool.shutdown(wait=True)
    finally:
        bar.close()
    records = [results[f"cells/{c.key}"] for c in cells if f"cells/{c.key}" in results]
    if errors:
        _write_json(out / "failures.json", errors)
    elif (out / "failures.json").exists():
        (out / "failures.json").unlink()
    outputs, table = write_outputs(out, records)
    return StudyResult(out, records, errors, time.perf_counter() - t0, table, outputs)


def plan_study(config: StudyConfig) -> str:
    """What :func:`run_study` would run: cells per env, method and init, demonstrations, nominal budgets.

    Nothing is trained; ``rl`` cells are counted at the recipe's RL steps (the ``matched`` budget adds
    the BC stage's compute, known only once ``bc+rl`` ran). Cells already finished in ``out_dir`` are
    counted as such.
    """
    from rlft.agents.bc import BCConfig
    from rlft.agents.rl import RLConfig

    config.validate()
    cells = expand_cells(config, {env.env_id: env_family(env) for env in config.envs})
    bc_default = next(f.default for f in dataclasses.fields(BCConfig) if f.name == "steps")
    rl_default = next(f.default for f in dataclasses.fields(RLConfig) if f.name == "env_steps")
    lines = [f"study {config.out_path}: {len(cells)} cells, seeds {list(config.seeds)}"]
    done = 0
    for env in config.envs:
        mine = [c for c in cells if c.env_id == env.env_id]
        recipe = mine[0].recipe
        counts: dict[tuple[str, str], int] = {}
        for c in mine:
            counts[(c.method, c.init)] = counts.get((c.method, c.init), 0) + 1
            done += (config.out_path / "cells" / c.key / "result.json").is_file()
        demo_sets = {d for c in mine for d in c.demo_sets}
        bc_steps = sum(int(recipe["bc"].get("steps", bc_default)) for c in mine if "bc" in c.stages)
        rl_steps = sum(int(recipe["rl"].get("env_steps", rl_default)) for c in mine if "rl" in c.stages)
        episodes = len(mine) * recipe["eval_episodes"] * len(recipe["eval_splits"]) * len(env.task_ids)
        tasks = f"one policy on {len(env.task_ids)} ids, " if env.multitask else ""
        lines.append(
            f"  {env.env_id} ({tasks}{recipe['family']}, backbone {recipe['backbone']}): {len(mine)} cells "
            f"({', '.join(f'{m}/{i} x{n}' for (m, i), n in sorted(counts.items()))}); "
            f"{len(demo_sets)} demonstration sets ({sum(d.count for d in demo_sets)} episodes); "
            f"{bc_steps} BC steps; >= {rl_steps} RL env steps; {episodes} evaluation episodes"
        )
    lines.append(f"  {done} of {len(cells)} cells already finished in {config.out_path}")
    return "\n".join(lines)
