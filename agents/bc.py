"""Behaviour cloning: fit a policy (pretrained backbone + adapter head) to expert demonstrations.

Read top to bottom, cleanrl-style: load the dataset, split its *episodes* into train / validation (so
validation states come from unseen episodes), build the policy, then minimise the negative
log-likelihood of the expert's actions. Every ``eval_every`` steps the validation loss and action
accuracy go to TensorBoard; the policy with the best validation accuracy (ties: lower loss) is kept in
``out_dir/best``. Checkpoints (``out_dir/checkpoints``) are atomic; running the same command again
after an interruption resumes from the latest one, with the same data order, because the batch for a
step depends only on ``(seed, step)``. Ctrl-C (SIGINT) or SIGTERM checkpoints the step just done and
raises :class:`rlft.agents.TrainingInterrupted`; a resumed run refuses settings that differ from the
ones it started with (``bc_config.json``) unless ``force_config`` is set, and TensorBoard drops what
a crashed run logged past its last checkpoint, so no step appears twice. With ``accelerate`` (and
``accelerate launch``) each process trains on its share of every batch and the gradients are summed
across processes (:mod:`rlft.agents.accelerate`); only the main process writes files.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from rlft.agents.accelerate import start_accelerate
from rlft.agents.checkpoint import (
    load_optimizer,
    load_state,
    resume_checkpoint,
    save_checkpoint,
    tensorboard_writer,
)
from rlft.agents.config import (
    AccelerateConfig,
    PolicySpec,
    TrainConfig,
    autocast,
    data_fingerprint,
    observation_digest,
)
from rlft.agents.interrupt import TrainingInterrupted, stop_on_signals
from rlft.agents.policy_io import save_agent_policy, split_space_of, start_policy
from rlft.demos.dataset import load_demos
from rlft.errors import ConfigError, atomic_dir, check_float, check_int

__all__ = ["BCConfig", "BCResult", "action_matches", "train_bc", "validate_bc"]

logger = logging.getLogger(__name__)


@dataclass
class BCConfig(TrainConfig, PolicySpec, AccelerateConfig):
    """Behaviour cloning: fit a policy to a demonstration dataset (train_bc; the rlft train bc flags).

    The environment (id, kwargs such as the tabletop view, split) is the one the dataset records; the
    seed seeds the episode split, the data order and the head initialisation.
    """

    dataset: str
    """Demonstration dataset folder written by rlft collect (or a Minari id under the Minari root); several
    comma-separated ones train one multi-task policy on their mixed transitions (their observation and
    action spaces must match, e.g. tabletop ids recorded with the same view)."""
    steps: int = 300
    """Optimizer steps in total (resumed runs count the steps already done)."""
    batch_size: int = 16
    """Transitions per step."""
    lr: float = 1e-3
    """AdamW learning rate."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    max_grad_norm: float = 1.0
    """Gradient clipping norm."""
    val_fraction: float = 0.2
    """Fraction of episodes held out for validation (at least one when the dataset has two or more)."""
    eval_every: int = 50
    """Validate every this many steps (and at the end)."""
    checkpoint_every: int = 100
    """Checkpoint every this many steps (and at the end)."""
    max_val_transitions: int = 256
    """Cap on validation transitions (validation runs the policy once per state)."""

    RESUMABLE_CHANGES: ClassVar[frozenset[str]] = TrainConfig.RESUMABLE_CHANGES | {
        "steps",
        "eval_every",
        "checkpoint_every",
        "accelerate",
    }
    """A resumed run may train longer, validate or checkpoint at another pace, or change its processes."""

    def validate(self) -> None:
        """Check every field; raise ConfigError naming the bad one."""
        super().validate()
        for name in ("steps", "batch_size", "eval_every", "checkpoint_every", "max_val_transitions"):
            check_int(name, getattr(self, name))
        check_float("lr", self.lr, 0.0)
        check_float("weight_decay", self.weight_decay, 0.0)
        check_float("max_grad_norm", self.max_grad_norm, 0.0)
        check_float("val_fraction", self.val_fraction, 0.0, 0.9)


@dataclass
class BCResult:
    """What :func:`train_bc` produced."""

    policy_dir: Path
    """The policy to use next (``best/`` when validation ran, else ``policy/``)."""
    final_dir: Path
    """The policy after the last step."""
    steps: int
    """Optimizer steps done in total."""
    metrics: dict[str, float]
    """Last validation metrics (``val_loss``, ``val_accuracy``) and ``train_loss``."""
    resumed_from: int = 0
    """Step the run resumed from (0 for a fresh run)."""
    seconds: float = 0.0
    """Wall time of this call."""


def action_matches(policy: Any, obs: Any, predicted: Any, expert: Any) -> bool:
    """Whether the policy's action is the expert's *in the policy's own discrete action set*.

    Web: the same admissible command. Tabletop: the same pick cell, pick yaw bin, place cell and place yaw
    bin (the pick-and-place head outputs cell centres, so comparing raw floats would never match);
    ``ee_delta``: the same bins, or (the Gaussian head) every dimension within a tolerance
    (``policy.same_action``).
    """
    return bool(policy.same_action(obs, predicted, expert))


def load_datasets(spec: str) -> list[Any]:
    """The datasets of a comma-separated ``dataset`` field, checked to share their spaces.

    Raises:
        DatasetError: a dataset is missing or corrupt.
        ConfigError: two datasets record environments with different observation or action spaces.
    """
    names = [part.strip() for part in spec.split(",") if part.strip()]
    if not names:
        raise ConfigError("dataset is empty: pass a dataset folder (or several, comma-separated).")
    datasets = [load_demos(name) for name in names]
    spaces_of = [split_space_of(data) for data in datasets]
    families = [_family(action) for _, action in spaces_of]
    for data, family in zip(datasets[1:], families[1:], strict=True):
        if family != families[0]:
            raise ConfigError(
                f"{data} records a {family} environment ({data.env_id}) and {datasets[0]} a "
                f"{families[0]} one ({datasets[0].env_id}): one policy reads one family's observations and "
                "acts in its action space. Train a policy per family: pass only web datasets, or only "
                "tabletop ones, in --dataset."
            )
    first = _layout(spaces_of[0])
    for data, pair in zip(datasets[1:], spaces_of[1:], strict=True):
        if _layout(pair) != first:
            raise ConfigError(
                f"{data} and {datasets[0]} were recorded with different observation or action spaces; "
                "mix datasets recorded with the same env kwargs (view, image size, action mode)."
            )
    return datasets


def _check_candidate_slots(policy: Any, transitions: list[Any]) -> None:
    """Warn when a web state offers more commands than the SB3 view's K (``max_candidates``).

    BC scores every candidate, but RL from this policy sees only the first K of each state (a mix of
    sites has the largest count of any of them).
    """
    limit = getattr(getattr(policy, "config", None), "max_candidates", None)
    counts = [len(obs["admissible_commands"]) for obs, _ in transitions if "admissible_commands" in obs]
    if limit is not None and counts and max(counts) > limit:
        logger.warning(
            "a demonstration state offers %d commands, more than max_candidates=%d: RL from this policy "
            "cannot select the extra ones; pass --policy-kwarg max_candidates=%d",
            max(counts),
            limit,
            max(counts),
        )


def _family(action_space: Any) -> str:
    """``web`` (text commands) or ``tabletop`` (array actions): the family of an env's action space."""
    from gymnasium import spaces

    return "web" if isinstance(action_space, spaces.Text) else "tabletop"


def _layout(spaces_pair: tuple[Any, Any]) -> list[tuple[str, str, Any, Any]]:
    """Key, type, shape and dtype of each observation entry and of the action: what a policy depends on.

    Bounds may differ (the tabletop ``step`` key is bounded by each task's episode length).
    """
    obs, action = spaces_pair
    entries = [*sorted(getattr(obs, "spaces", {"": obs}).items()), ("<action>", action)]
    return [
        (k, type(v).__name__, getattr(v, "shape", None), str(getattr(v, "dtype", ""))) for k, v in entries
    ]


def _spread(items: list[Any], limit: int) -> list[Any]:
    """At most ``limit`` of ``items``, evenly spread (so every mixed dataset keeps validation states)."""
    if len(items) <= limit:
        return items
    return [items[i] for i in np.linspace(0, len(items) - 1, limit).round().astype(int)]


def split_episodes(n: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Shuffle episode indices with ``seed`` and hold out ``val_fraction`` of them (>= 1 if n >= 2)."""
    order = np.random.default_rng(seed).permutation(n).tolist()
    n_val = 0 if n < 2 or val_fraction == 0 else max(1, round(n * val_fraction))
    return sorted(order[n_val:]), sorted(order[:n_val])


def batch_indices(step: int, n: int, batch_size: int, seed: int) -> np.ndarray:
    """The transitions of ``step``: a fresh seeded permutation per epoch, so resuming replays exactly."""
    per_epoch = math.ceil(n / batch_size)
    epoch, pos = divmod(step, per_epoch)
    perm = np.random.default_rng([seed, epoch]).permutation(n)
    return perm[pos * batch_size : (pos + 1) * batch_size]


def optimizer_step(
    loss: Any,
    optimizer: Any,
    scaler: Any,
    params: list[Any],
    max_grad_norm: float,
    before_clip: Callable[[list[Any]], None] | None = None,
) -> None:
    """One step on ``loss``: backward through the (fp16) grad scaler, clip to ``max_grad_norm``, update.

    ``before_clip(params)`` runs on the unscaled gradients before clipping (the data-parallel gradient
    sum of :class:`rlft.agents.accelerate.Accelerated`).
    """
    import torch

    optimizer.zero_grad()
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    if before_clip is not None:
        before_clip(params)
    torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    scaler.step(optimizer)
    scaler.update()


def validate_bc(policy: Any, transitions: list[tuple[Any, Any]], batch_size: int) -> dict[str, float]:
    """Validation loss (mean NLL of the expert actions) and action accuracy (greedy policy)."""
    import torch

    policy.eval()
    losses, hits = [], 0
    with torch.no_grad():
        for start in range(0, len(transitions), batch_size):
            chunk = transitions[start : start + batch_size]
            observations, actions = [o for o, _ in chunk], [a for _, a in chunk]
            log_prob, _, _ = policy.evaluate_actions(observations, actions)
            losses.append(float(-log_prob.sum()))
            predicted = policy.act_batch(observations, deterministic=True)
            hits += sum(
                action_matches(policy, *t) for t in zip(observations, predicted, actions, strict=True)
            )
    policy.train()
    n = max(1, len(transitions))
    return {"val_loss": sum(losses) / n, "val_accuracy": hits / n}


class _NoWriter:
    """The TensorBoard writer of processes other than the main one: writes nothing."""

    def add_scalar(self, *args: Any, **kwargs: Any) -> None:
        """Drop the value."""

    def close(self) -> None:
        """Nothing to close."""


def train_bc(config: BCConfig) -> BCResult:
    """Train a policy by behaviour cloning on ``config.dataset``; see the module docstring.

    Raises:
        DatasetError: the dataset is missing or corrupt.
        CheckpointError: the run folder's checkpoint is corrupt (good ones are never overwritten).
        ModalityError: the backbone does not fit the environment's observations.
        ConfigError: invalid settings, ``out_dir`` holds checkpoints and ``resume`` is off, or it holds a
            run started with other settings (see ``force_config``).
        TrainingInterrupted: SIGINT / SIGTERM arrived; a checkpoint of the last step was written.

    """
    import torch
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    config.validate()
    run = start_accelerate(config.accelerate, config.torch_device())
    device = run.device
    torch.set_num_threads(config.num_threads)
    run_dir = config.run_dir()

    # Data: whole episodes go to either side of the split (in each dataset).
    datasets = load_datasets(config.dataset)
    dataset = datasets[0]
    train, val, steps = [], [], []
    for data in datasets:
        train_eps, val_eps = split_episodes(data.total_episodes, config.val_fraction, config.seed)
        kept = data.transitions(train_eps), data.transitions(val_eps)
        train += kept[0]
        val += kept[1]
        # What the resume check compares: a dataset re-recorded into the same folder is other data, even
        # with the same goals and actions (a newer rlft describing the same pages otherwise).
        steps += [(data.env_id, observation_digest(obs), act) for part in kept for obs, act in part]
    # One dataset keeps its first validation transitions; mixed ones keep states of every dataset.
    val = _spread(val, config.max_val_transitions) if len(datasets) > 1 else val[: config.max_val_transitions]
    logger.info(
        "BC on %s: %d train / %d val transitions", ", ".join(map(str, datasets)), len(train), len(val)
    )
    env_record: dict[str, Any] = {
        "env_id": dataset.env_id,
        "env_kwargs": dataset.env_kwargs,
        "split": dataset.split,
    }
    if len(datasets) > 1:
        env_record["env_ids"] = sorted({d.env_id for d in datasets})

    # Policy, optimizer, and (when resuming) their saved state.
    latest = resume_checkpoint(
        config, "bc_config.json", data={"demonstrations": data_fingerprint("transitions", steps)}
    )
    obs_space, act_space = split_space_of(dataset)
    start, best = 0, {"val_accuracy": -1.0, "val_loss": math.inf}
    policy = start_policy(config, latest, obs_space, act_space, device)
    if latest is None and config.policy is None:
        policy.fit_actions([a for _, a in train])  # data-dependent action bins (ee_binned)
    _check_candidate_slots(policy, train + val)
    if latest is not None:
        state = load_state(latest)
        start, best = state["step"], state.get("best", best)
        logger.info("resuming BC from %s (step %d)", latest, start)
    params = policy.trainable_parameters()
    if not params:
        raise ConfigError("The policy has no trainable parameters; use a head or finetune='lora'/'full'.")
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    if latest is not None:
        load_optimizer(latest, optimizer)
    scaler = torch.amp.GradScaler(device.type, enabled=config.precision == "fp16")

    def save_policy(p: Any, folder: Path) -> None:
        save_agent_policy(p, folder, env_record)

    def checkpoint(done: int) -> Path:
        if not run.is_main:
            return run_dir / "checkpoints"
        return save_checkpoint(
            run_dir,
            done,
            policy,
            optimizer,
            {"best": best, "metrics": metrics},
            keep=config.keep_checkpoints,
            save_policy=save_policy,
        )

    writer = tensorboard_writer(run_dir / "tb", start) if run.is_main else _NoWriter()
    metrics: dict[str, float] = {}
    policy.train()
    bar = tqdm(
        total=config.steps, initial=start, desc="train bc", unit="step", disable=not config.show_progress
    )
    done = start
    try:
        with stop_on_signals() as stop:
            for step in range(start, config.steps):
                idx = batch_indices(step, len(train), config.batch_size, config.seed)
                mine = run.shard(idx)
                with autocast(device, config.precision):
                    log_prob, entropy, _ = policy.evaluate_actions(
                        [train[i][0] for i in mine], [train[i][1] for i in mine]
                    )
                    loss = run.batch_loss(-log_prob.float(), len(idx))
                optimizer_step(loss, optimizer, scaler, params, config.max_grad_norm, run.sync_gradients)
                done = step + 1
                metrics["train_loss"] = run.total(loss.item())
                writer.add_scalar("bc/train_loss", metrics["train_loss"], done)
                writer.add_scalar("bc/entropy", entropy.float().mean().item(), done)
                bar.update(1)
                bar.set_postfix(loss=f"{metrics['train_loss']:.3f}")

                if val and (done % config.eval_every == 0 or done == config.steps):
                    with autocast(device, config.precision):
                        metrics.update(validate_bc(policy, val, config.batch_size))
                    writer.add_scalar("bc/val_loss", metrics["val_loss"], done)
                    writer.add_scalar("bc/val_accuracy", metrics["val_accuracy"], done)
                    better = (metrics["val_accuracy"], -metrics["val_loss"]) > (
                        best["val_accuracy"],
                        -best["val_loss"],
                    )
                    if better:
                        best = {
                            "val_accuracy": metrics["val_accuracy"],
                            "val_loss": metrics["val_loss"],
                            "step": done,
                        }
                        if run.is_main:
                            atomic_dir(run_dir / "best", lambda d: save_policy(policy, d))
                    logger.info("step %d: %s", done, {k: round(v, 4) for k, v in metrics.items()})
                saved = None
                if done % config.checkpoint_every == 0 or done == config.steps:
                    saved = checkpoint(done)
                if stop:
                    raise TrainingInterrupted(done, saved or checkpoint(done))
    finally:
        bar.close()
        writer.close()
    if run.is_main:
        atomic_dir(run_dir / "policy", lambda d: save_policy(policy, d))
    run.wait()  # the other processes return once the policy is written
    use_best = (run_dir / "best").exists()
    return BCResult(
        policy_dir=run_dir / ("best" if use_best else "policy"),
        final_dir=run_dir / "policy",
        steps=max(start, config.steps),
        metrics=metrics,
        resumed_from=start,
        seconds=time.perf_counter() - t0,
    )
