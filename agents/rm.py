"""Reward-model training: fit a :class:`~rlft.policies.reward.RewardModel` to pairwise comparisons.

Read top to bottom, like :mod:`rlft.agents.bc`: read the comparisons (the Parquet folder ``rlft
compare`` writes), hold out whole *goals* (``env_id`` + ``goal_seed``) so validation pairs are about
goals the model never saw, build the reward model, then minimise the Bradley-Terry loss.

The loss: with ``d = r(prompt, chosen) - r(prompt, rejected)``, a preference costs ``-log sigmoid(d)``
and a tie costs ``-0.5 * (log sigmoid(d) + log sigmoid(-d))``: the cross-entropy of ``sigmoid(d)``
against a soft label of 1/2, which pulls tied episodes to equal rewards (the simplest tie model; the
Rao-Kupper and Davidson extensions add a tie parameter, which this loss does without).

Every ``eval_every`` steps, and at the end, the held-out pairs are scored:

* ``heldout_accuracy``: the fraction of held-out pairs, among those whose *true* env scores are known
  and differ and that the rater did not call a tie, in which the reward model ranks the truly better
  episode higher (the target of the feedback demo);
* ``heldout_label_accuracy``: agreement with the rater's label on non-tie pairs (all a human-labelled
  set offers);
* ``heldout_ece``: expected calibration error of ``sigmoid(d)`` as the probability that the rater
  prefers ``chosen`` (top-label form, 10 equal bins over [0.5, 1]); the reliability bins go to the result
  JSON;
* ``val_loss``: the Bradley-Terry loss on held-out pairs.

The model with the best held-out accuracy (ties: lower loss) is kept in ``out_dir/best``, the last one
in ``out_dir/model``; ``load_reward_model(out_dir)`` reads the best. As with BC's ``best/``, the held-out
pairs both pick that model and measure it, so its held-out accuracy is slightly optimistic; the last
model's metrics are in the result JSON too (``last_model_metrics``). Checkpoints, resume, the
"changed settings do not silently resume" check, signal handling and TensorBoard scalars (``rm/*``) work
as in behaviour cloning; ``out_dir/rm_result.json`` holds the final metrics.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from rlft.agents.bc import batch_indices, optimizer_step
from rlft.agents.checkpoint import (
    load_optimizer,
    load_state,
    resume_checkpoint,
    save_checkpoint,
    tensorboard_writer,
)
from rlft.agents.config import TrainConfig, autocast, data_fingerprint
from rlft.agents.interrupt import TrainingInterrupted, stop_on_signals
from rlft.errors import ConfigError, DatasetError, atomic_dir, atomic_write_text, check_float, check_int

__all__ = [
    "Pairs",
    "RMConfig",
    "RMResult",
    "bradley_terry_loss",
    "calibration",
    "json_safe",
    "pairwise_metrics",
    "read_pairs_for_rm",
    "score_statistics",
    "split_by_goal",
    "train_rm",
]

logger = logging.getLogger(__name__)

RESULT_FILE = "rm_result.json"
"""The result JSON in the run folder."""

CALIBRATION_BINS = 10
"""Equal-width confidence bins over [0.5, 1] for the expected calibration error."""


@dataclass
class RMConfig(TrainConfig):
    """Reward-model training on pairwise comparisons (train_rm; the rlft train rm flags).

    The seed seeds the goal split, the data order and the head (and LoRA) initialisation.
    """

    prefs: str
    """Comparisons folder written by rlft compare (Parquet, one row per comparison)."""
    backbone: str = "minilm"
    """Backbone spec: minilm, smollm2-135m, hf:<id>, tiny-bert ... (ignored when resuming)."""
    finetune: str = "frozen"
    """How the backbone trains: frozen (head only; encodings cached, fast on a CPU), lora or full."""
    reward_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra rlft.policies.reward.RewardModelConfig fields (head_hidden, max_episode_tokens ...)."""
    steps: int = 300
    """Optimizer steps in total (resumed runs count the steps already done)."""
    batch_size: int = 32
    """Comparisons per step."""
    lr: float = 1e-3
    """AdamW learning rate."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    max_grad_norm: float = 1.0
    """Gradient clipping norm."""
    val_fraction: float = 0.2
    """Fraction of goals (env id + goal seed) whose comparisons are held out (at least one goal when
    there are two or more)."""
    eval_every: int = 50
    """Validate every this many steps (and at the end)."""
    checkpoint_every: int = 100
    """Checkpoint every this many steps (and at the end)."""

    RESUMABLE_CHANGES: ClassVar[frozenset[str]] = TrainConfig.RESUMABLE_CHANGES | {
        "steps",
        "eval_every",
        "checkpoint_every",
    }
    """A resumed run may train longer and validate or checkpoint at another pace."""

    def validate(self) -> None:
        """Check every field; raise ConfigError naming the bad one."""
        super().validate()
        if not isinstance(self.prefs, str) or not self.prefs:
            raise ConfigError("prefs is required: the comparisons folder (--prefs DIR).")
        for name in ("steps", "batch_size", "eval_every", "checkpoint_every"):
            check_int(name, getattr(self, name))
        check_float("lr", self.lr, 0.0)
        check_float("weight_decay", self.weight_decay, 0.0)
        check_float("max_grad_norm", self.max_grad_norm, 0.0)
        check_float("val_fraction", self.val_fraction, 0.0, 0.9)
        self.reward_config()

    def reward_config(self, frames: bool | None = None) -> Any:
        """The :class:`~rlft.policies.reward.RewardModelConfig` of a fresh reward model.

        ``frames``: whether the comparisons hold tabletop episodes (final frames), which ``head="auto"``
        reads with the ``image`` head (``None``: not known yet, nothing checked).

        Raises:
            ConfigError: an invalid or unknown field, or a head that cannot read these episodes.
        """
        from rlft.policies.reward import RewardModelConfig

        fields = {"backbone": self.backbone, "finetune": self.finetune, "seed": self.seed}
        config = RewardModelConfig.from_dict({**fields, **self.reward_kwargs})
        if frames is None:
            return config
        if frames and config.head == "auto":
            config.head = "image"
        if frames != (config.head == "image"):
            kind = "tabletop episodes (final frames)" if frames else "text episodes (web transcripts)"
            fix = (
                "drop the head kwarg (auto) or pass head=image" if frames else "use grounded, pooled or auto"
            )
            raise ConfigError(
                f"{self.prefs} holds {kind}, which the {config.head!r} reward head does not read; {fix}."
            )
        return config


@dataclass
class RMResult:
    """What :func:`train_rm` produced."""

    model_dir: Path
    """The reward model to use next (``best/`` when validation ran, else ``model/``)."""
    final_dir: Path
    """The reward model after the last step."""
    steps: int
    """Optimizer steps done in total."""
    metrics: dict[str, float]
    """Metrics of the kept model (``heldout_accuracy``, ``heldout_ece``, ``val_loss`` ...) and the last
    ``train_loss``."""
    report_path: Path
    """``rm_result.json``: metrics, calibration bins, pair and goal counts."""
    resumed_from: int = 0
    """Step the run resumed from (0 for a fresh run)."""
    seconds: float = 0.0
    """Wall time of this call."""

    @property
    def heldout_accuracy(self) -> float | None:
        """Held-out pairwise accuracy of the kept model, ``None`` when it was not measured (or is NaN)."""
        value = self.metrics.get("heldout_accuracy")
        return None if value is None or value != value else float(value)


def _goal(row: Any) -> tuple[str, int]:
    return str(row.env_id), int(row.goal_seed)


def split_by_goal(rows: Sequence[Any], val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices of training and held-out comparisons; every goal's comparisons fall on one side.

    Goals (``env_id``, ``goal_seed``) are shuffled with ``seed`` and ``val_fraction`` of them (at least one
    when there are two or more, none for ``val_fraction == 0``) are held out.
    """
    goals = sorted({_goal(r) for r in rows})
    order = np.random.default_rng(seed).permutation(len(goals))
    n_val = 0 if len(goals) < 2 or val_fraction == 0 else max(1, round(len(goals) * val_fraction))
    held = {goals[i] for i in order[:n_val]}
    train = [i for i, r in enumerate(rows) if _goal(r) not in held]
    val = [i for i, r in enumerate(rows) if _goal(r) in held]
    return train, val


def bradley_terry_loss(margin: Any, tie: Any) -> Any:
    """Mean Bradley-Terry loss of reward margins ``r_chosen - r_rejected`` (ties: a soft label of 1/2).

    Args:
        margin: float tensor ``[N]``.
        tie: bool tensor ``[N]``.
    """
    import torch.nn.functional as F  # noqa: N812

    preferred = -F.logsigmoid(margin)
    tied = -0.5 * (F.logsigmoid(margin) + F.logsigmoid(-margin))
    return (preferred * (~tie) + tied * tie).mean()


def calibration(margins: np.ndarray, bins: int = CALIBRATION_BINS) -> tuple[float, list[dict[str, float]]]:
    """Expected calibration error of ``sigmoid(margin)`` as P(rater prefers ``chosen``), and its bins.

    Top-label form: each pair's confidence is ``max(p, 1 - p)``, correct when ``p > 1/2`` (the label is
    always "chosen"); bins are equal-width over [0.5, 1]. Ties must be left out by the caller.
    """
    p = 1.0 / (1.0 + np.exp(-np.asarray(margins, dtype=np.float64)))
    confidence = np.maximum(p, 1.0 - p)
    correct = (p > 0.5).astype(np.float64)
    edges = np.linspace(0.5, 1.0, bins + 1)
    table, ece = [], 0.0
    for i, (lo, hi) in enumerate(itertools.pairwise(edges)):
        inside = (confidence >= lo) & ((confidence < hi) if i < bins - 1 else (confidence <= hi))
        count = int(inside.sum())
        if count == 0:
            continue
        conf, acc = float(confidence[inside].mean()), float(correct[inside].mean())
        ece += count / max(1, len(p)) * abs(acc - conf)
        table.append({"lo": float(lo), "hi": float(hi), "count": count, "confidence": conf, "accuracy": acc})
    return (float(ece) if len(p) else math.nan), table


def pairwise_metrics(
    chosen_rewards: np.ndarray, rejected_rewards: np.ndarray, rows: Sequence[Any]
) -> dict[str, Any]:
    """Accuracy against true scores and rater labels, calibration and loss of scored comparisons."""
    import torch

    margins = np.asarray(chosen_rewards, dtype=np.float64) - np.asarray(rejected_rewards, dtype=np.float64)
    tie = np.array([bool(r.tie) for r in rows], dtype=bool)
    true_a = np.array([float(r.chosen_score) for r in rows], dtype=np.float64)
    true_b = np.array([float(r.rejected_score) for r in rows], dtype=np.float64)
    known = ~tie & np.isfinite(true_a) & np.isfinite(true_b) & (np.abs(true_a - true_b) > 1e-9)
    truth = np.sign(true_a - true_b)
    ece, bins = calibration(margins[~tie])
    loss = bradley_terry_loss(torch.as_tensor(margins), torch.as_tensor(tie))
    return {
        "heldout_accuracy": float(np.mean(np.sign(margins[known]) == truth[known]))
        if known.any()
        else math.nan,
        "heldout_label_accuracy": float(np.mean(margins[~tie] > 0)) if (~tie).any() else math.nan,
        "heldout_ece": ece,
        "val_loss": float(loss),
        "heldout_pairs": len(rows),
        "heldout_scored_pairs": int(known.sum()),
        "calibration_bins": bins,
    }


def _scalars(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, int | float)}


def json_safe(value: Any) -> Any:
    """``value`` with NaN / infinite floats replaced by ``None`` (strict JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class Pairs:
    """Comparisons with the episodes as the reward model reads them (texts, or final frames)."""

    rows: list[Any]
    """The :class:`~rlft.demos.comparisons.Comparison` rows."""
    chosen: list[Any]
    """Each row's preferred episode: its text, or its final frame (``H x W x 3`` uint8)."""
    rejected: list[Any]
    """Each row's other episode."""

    def subset(self, indices: Sequence[int] | np.ndarray) -> Pairs:
        """The pairs at ``indices``."""
        return Pairs(*([part[i] for i in indices] for part in (self.rows, self.chosen, self.rejected)))

    @property
    def prompts(self) -> list[str]:
        """Each row's instruction."""
        return [str(r.prompt) for r in self.rows]


def read_pairs_for_rm(prefs: str) -> tuple[Pairs, bool]:
    """The comparisons of ``prefs`` as :class:`Pairs`, and whether their episodes are final frames.

    Web rows are read as their texts; tabletop rows (episodes stored as ``.gif``) as the final frame saved
    beside each GIF (``.npy``).

    Raises:
        DatasetError: no comparisons, a mix of text and frame episodes, or a missing or damaged frame.
    """
    from rlft.demos.comparisons import episode_file, read_comparisons

    rows = list(read_comparisons(prefs))
    if not rows:
        raise DatasetError(f"{prefs} holds no comparisons; write some with rlft compare first.")
    gifs = {str(path).endswith(".gif") for r in rows for path in (r.chosen_path, r.rejected_path)}
    if len(gifs) > 1:
        raise DatasetError(
            f"{prefs} mixes text (web) and frame (tabletop) episodes; train one reward model per family."
        )
    if gifs != {True}:
        return Pairs(rows, [str(r.chosen) for r in rows], [str(r.rejected) for r in rows]), False

    def frame(relative: str) -> np.ndarray:
        path = episode_file(prefs, relative, ".npy")
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise DatasetError(
                f"Cannot read the final frame {path} ({err}); run rlft compare again into {prefs}."
            ) from err

    return Pairs(rows, [frame(r.chosen_path) for r in rows], [frame(r.rejected_path) for r in rows]), True


def validate_rm(model: Any, pairs: Pairs, batch_size: int) -> dict[str, Any]:
    """Score held-out comparisons and compute :func:`pairwise_metrics`."""
    chosen = model.score(pairs.prompts, pairs.chosen, batch_size=batch_size)
    rejected = model.score(pairs.prompts, pairs.rejected, batch_size=batch_size)
    return pairwise_metrics(chosen, rejected, pairs.rows)


def score_statistics(model: Any, pairs: Pairs, batch_size: int) -> dict[str, float]:
    """Mean and standard deviation of ``model``'s scores over the distinct episodes of ``pairs``.

    Texts are distinct by their words (identical episodes count once); frames, which cannot be compared
    as cheaply, by their episode id.
    """
    distinct: dict[tuple[str, str], tuple[str, Any]] = {}
    for row, chosen, rejected in zip(pairs.rows, pairs.chosen, pairs.rejected, strict=True):
        for episode_id, episode in ((row.chosen_episode, chosen), (row.rejected_episode, rejected)):
            key = episode if isinstance(episode, str) else str(episode_id)
            distinct.setdefault((str(row.prompt), key), (str(row.prompt), episode))
    kept = [distinct[k] for k in sorted(distinct)]
    scores = model.score([p for p, _ in kept], [e for _, e in kept], batch_size=batch_size)
    return {"score_mean": float(np.mean(scores)), "score_std": float(np.std(scores))}


def _fingerprint(rows: Sequence[Any]) -> str:
    """What the run trains on, for the resume check: every comparison's texts, ids and label.

    A tabletop episode's text lists its actions; its frame is named by the episode id.
    """
    return data_fingerprint(
        "comparisons",
        (
            (str(r.pair_id), str(r.prompt), str(r.chosen), str(r.rejected), r.chosen_episode, bool(r.tie))
            for r in rows
        ),
    )


def train_rm(config: RMConfig) -> RMResult:
    """Train a reward model on ``config.prefs``; see the module docstring.

    Raises:
        DatasetError: the comparisons folder is missing, corrupt or empty.
        CheckpointError: the run folder's checkpoint is corrupt (good ones are never overwritten).
        ModalityError: the backbone encodes no text.
        ConfigError: invalid settings, ``out_dir`` holds checkpoints and ``resume`` is off, or it holds a
            run started with other settings (see ``force_config``).
        TrainingInterrupted: SIGINT / SIGTERM arrived; a checkpoint of the last step was written.
    """
    import torch
    from rlft.policies.reward import RewardModel, load_reward_model
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    config.validate()
    device = config.torch_device()
    torch.set_num_threads(config.num_threads)
    run_dir = config.run_dir()

    # Data: whole goals go to either side of the split.
    pairs, frames = read_pairs_for_rm(config.prefs)
    rows = pairs.rows
    train_idx, val_idx = split_by_goal(rows, config.val_fraction, config.seed)
    if not train_idx:
        raise DatasetError(f"{config.prefs}: no comparisons left for training; lower --val-fraction.")
    train, val = pairs.subset(train_idx), pairs.subset(val_idx)
    logger.info(
        "reward model on %s: %d train / %d held-out comparisons", config.prefs, len(train.rows), len(val.rows)
    )

    latest = resume_checkpoint(config, "rm_config.json", data={"comparisons": _fingerprint(rows)})
    start, best = 0, {"heldout_accuracy": -1.0, "val_loss": math.inf}
    kept: dict[str, Any] = {}
    if latest is not None:
        model = load_reward_model(latest / "policy", device=device, progress=config.show_progress)
        state = load_state(latest)
        start, best = state["step"], state.get("best", best)
        kept = dict(state.get("kept") or {})
        logger.info("resuming reward-model training from %s (step %d)", latest, start)
    else:
        model = RewardModel(config.reward_config(frames), device=device, progress=config.show_progress)
    params = model.trainable_parameters()
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    if latest is not None:
        load_optimizer(latest, optimizer)
    scaler = torch.amp.GradScaler(device.type, enabled=config.precision == "fp16")

    metrics: dict[str, Any] = {}

    def save(m: Any, folder: Path) -> None:
        m.save_pretrained(folder, metrics=_scalars(metrics))

    def checkpoint(done: int) -> Path:
        state = {"best": best, "kept": json_safe(kept), "metrics": _scalars(metrics)}
        return save_checkpoint(
            run_dir, done, model, optimizer, state, keep=config.keep_checkpoints, save_policy=save
        )

    writer = tensorboard_writer(run_dir / "tb", start)
    model.train()
    bar = tqdm(
        total=config.steps, initial=start, desc="train rm", unit="step", disable=not config.show_progress
    )
    done = start
    try:
        with stop_on_signals() as stop:
            for step in range(start, config.steps):
                batch = train.subset(batch_indices(step, len(train.rows), config.batch_size, config.seed))
                prompts, n = batch.prompts, len(batch.rows)
                with autocast(device, config.precision):
                    rewards = model(prompts + prompts, batch.chosen + batch.rejected)
                    margin = (rewards[:n] - rewards[n:]).float()
                    tie = torch.tensor([bool(r.tie) for r in batch.rows], device=margin.device)
                    loss = bradley_terry_loss(margin, tie)
                optimizer_step(loss, optimizer, scaler, params, config.max_grad_norm)
                done = step + 1
                metrics["train_loss"] = loss.item()
                metrics["train_accuracy"] = (
                    float((margin[~tie] > 0).float().mean()) if (~tie).any() else math.nan
                )
                writer.add_scalar("rm/train_loss", metrics["train_loss"], done)
                writer.add_scalar("rm/train_accuracy", metrics["train_accuracy"], done)
                bar.update(1)
                bar.set_postfix(loss=f"{metrics['train_loss']:.3f}")

                if val.rows and (done % config.eval_every == 0 or done == config.steps):
                    with autocast(device, config.precision):
                        metrics.update(validate_rm(model, val, config.batch_size))
                    for name in ("heldout_accuracy", "heldout_label_accuracy", "heldout_ece", "val_loss"):
                        if math.isfinite(metrics[name]):
                            writer.add_scalar(f"rm/{name}", metrics[name], done)
                    accuracy = metrics["heldout_accuracy"]
                    accuracy = metrics["heldout_label_accuracy"] if math.isnan(accuracy) else accuracy
                    accuracy = -1.0 if math.isnan(accuracy) else accuracy
                    if (accuracy, -metrics["val_loss"]) > (best["heldout_accuracy"], -best["val_loss"]):
                        kept = {**metrics, "step": done}
                        best = {
                            "heldout_accuracy": accuracy,
                            "val_loss": metrics["val_loss"],
                            "step": done,
                        }
                        atomic_dir(run_dir / "best", lambda d: save(model, d))
                    logger.info("step %d: %s", done, {k: round(v, 4) for k, v in _scalars(metrics).items()})
                saved = None
                if done % config.checkpoint_every == 0 or done == config.steps:
                    saved = checkpoint(done)
                if stop:
                    raise TrainingInterrupted(done, saved or checkpoint(done))
    finally:
        bar.close()
        writer.close()
    # Each saved model carries the mean / std of its scores on the training episodes: RL from the learned
    # reward standardises the terminal reward with them.
    metrics.update(score_statistics(model, train, config.batch_size))
    atomic_dir(run_dir / "model", lambda d: save(model, d))
    use_best = (run_dir / "best").exists()
    final = metrics
    if use_best:
        best_model = load_reward_model(run_dir / "best", device=device, progress=False)
        final = {**kept, **score_statistics(best_model, train, config.batch_size)}
        atomic_dir(run_dir / "best", lambda d: best_model.save_pretrained(d, metrics=_scalars(final)))
    final = {**final, "train_loss": metrics.get("train_loss", math.nan)}
    report = {
        "prefs": str(Path(config.prefs).resolve()),
        "model_dir": str((run_dir / ("best" if use_best else "model")).resolve()),
        "steps": max(start, config.steps),
        "train_pairs": len(train.rows),
        "heldout_goals": len({_goal(r) for r in val.rows}),
        "train_goals": len({_goal(r) for r in train.rows}),
        "episodes": "final frames" if frames else "texts",
        "metrics": final,
        "last_model_metrics": _scalars(metrics),
        "loss": "bradley_terry (ties: soft label 1/2)",
    }
    report_path = atomic_write_text(run_dir / RESULT_FILE, json.dumps(json_safe(report), indent=2))
    return RMResult(
        model_dir=run_dir / ("best" if use_best else "model"),
        final_dir=run_dir / "model",
        steps=max(start, config.steps),
        metrics=_scalars(final),
        report_path=report_path,
        resumed_from=start,
        seconds=time.perf_counter() - t0,
    )
