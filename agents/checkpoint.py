"""Training checkpoints that survive interruption: atomic writes, a ``latest`` pointer, safe loading.

A run folder looks like::

    run_dir/
      checkpoints/step_00000200/   policy (safetensors + JSON, written by AgentPolicy.save),
                                   optimizer.pt (tensors only), state.json (step, metrics)
      checkpoints/latest.json      {"step": 200, "name": "step_00000200"}
      best/                        the policy with the best validation metric (BC)
      tb/                          TensorBoard event files

Every checkpoint is written into a hidden temporary folder and renamed into place; ``latest.json`` is
replaced atomically after that. A crash at any moment leaves the previous checkpoint intact and
``latest.json`` pointing at a complete one. Old checkpoints are pruned only after a newer one is
committed, and so are the temporary folders a killed run left behind. Optimizer state is loaded with
``torch.load(weights_only=True)``, which refuses arbitrary pickled objects.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rlft.errors import CheckpointError, ConfigError, atomic_dir, atomic_write_text

__all__ = [
    "CHECKPOINTS",
    "latest_checkpoint",
    "load_optimizer",
    "load_state",
    "prune_checkpoints",
    "resume_checkpoint",
    "save_checkpoint",
    "tensorboard_writer",
]

logger = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
"""Sub-folder of a run folder that holds the step checkpoints."""
LATEST = "latest.json"
STATE = "state.json"
OPTIMIZER = "optimizer.pt"
_INTERRUPTED_WRITE = re.compile(r"\.(.+)\.(?:tmp|old)-[^.]*")
"""Temporary folder names of :func:`rlft.errors.atomic_dir`: ``.NAME.tmp-XXXX`` and ``.NAME.old-PID``."""


def tensorboard_writer(folder: Path, resumed_step: int) -> Any:
    """A TensorBoard ``SummaryWriter`` on ``folder`` for a run that starts at ``resumed_step``.

    Events an interrupted run logged past its last checkpoint are purged, so a resumed run never logs a
    step twice. Steps are logged as done (checkpoint step + 1 onwards), so the checkpoint's own step stays.

    TensorBoard reads a folder's event files in name order, and the purge only drops events read before
    it, so the new file must sort after the folder's existing ones. Its name is
    ``events.out.tfevents.<seconds>.<host>.<pid>.<n>``, ``n`` a per-process counter of writers: within
    one second, ``...pid.10`` sorts before ``...pid.9``, and whether a resume lands on such a boundary
    depends on how many writers the process opened before. So a writer opened in the same second as the
    newest existing file first waits for the next second (at most one second, only then).
    """
    from torch.utils.tensorboard import SummaryWriter

    _wait_for_a_later_second(folder)
    return SummaryWriter(str(folder), purge_step=resumed_step + 1 if resumed_step else None)


def _wait_for_a_later_second(folder: Path) -> None:
    """Sleep until the clock's second is past the newest event file's in ``folder`` (at most ~1 s)."""
    stamps = [
        int(m.group(1))
        for f in (folder.glob("events.out.tfevents.*") if folder.is_dir() else ())
        if (m := re.match(r"events\.out\.tfevents\.(\d+)\.", f.name))
    ]
    if not stamps:
        return
    wait = max(stamps) + 1 - time.time()
    if 0 < wait <= 1.0:
        time.sleep(wait)
    elif wait > 1.0:
        logger.warning(
            "%s holds event files from the future (clock skew?); TensorBoard may mis-order", folder
        )


def save_checkpoint(
    run_dir: Path,
    step: int,
    policy: Any,
    optimizer: Any | None,
    state: dict[str, Any],
    keep: int = 2,
    save_policy: Callable[[Any, Path], object] | None = None,
) -> Path:
    """Write checkpoint ``step`` (policy, optimizer, ``state``) atomically and point ``latest`` at it.

    Args:
        run_dir: the run folder.
        step: the training step the checkpoint is taken at (its name).
        policy: object saved with ``save_policy(policy, folder)`` (default ``policy.save(folder)``).
        optimizer: a torch optimizer whose ``state_dict`` is saved, or ``None``.
        state: JSON-serializable trainer state (``step`` is added).
        keep: how many most recent checkpoints to keep.
        save_policy: how to write ``policy`` into a folder.

    """
    import torch

    name = f"step_{step:08d}"
    folder = run_dir / CHECKPOINTS / name

    def write(tmp: Path) -> None:
        (save_policy or (lambda p, d: p.save(d)))(policy, tmp / "policy")
        if optimizer is not None:
            torch.save(optimizer.state_dict(), tmp / OPTIMIZER)
        (tmp / STATE).write_text(json.dumps({**state, "step": step}, indent=2))

    atomic_dir(folder, write)
    atomic_write_text(run_dir / CHECKPOINTS / LATEST, json.dumps({"step": step, "name": name}))
    prune_checkpoints(run_dir, keep)
    logger.info("checkpoint %s", folder)
    return folder


def resume_checkpoint(config: Any, config_file: str, data: dict[str, str] | None = None) -> Path | None:
    """The checkpoint a training run resumes from (``None`` for a fresh run), its settings checked.

    Writes (or, resuming, compares) ``config_file`` in the run folder with
    :func:`rlft.agents.config.check_resume_config`; ``data`` (fingerprints of the training data) is
    stored and compared with the settings.

    Raises:
        ConfigError: the run folder holds checkpoints and ``config.resume`` is off, or they were made with
            other settings (see ``force_config``).
        CheckpointError: ``latest.json`` or the checkpoint it names is damaged.
    """
    from rlft.agents.config import check_resume_config

    run_dir = config.run_dir()
    latest = latest_checkpoint(run_dir)
    if latest is not None and not config.resume:
        raise ConfigError(
            f"{run_dir} already holds checkpoints; pass resume=True (--resume) to continue, "
            "or choose another --out so they are not overwritten."
        )
    check_resume_config(config, run_dir / config_file, resuming=latest is not None, data=data)
    return latest


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The folder ``latest.json`` points at, or ``None`` when the run has no checkpoint yet.

    Raises:
        CheckpointError: when ``latest.json`` or the folder it names is damaged.

    """
    pointer = run_dir / CHECKPOINTS / LATEST
    if not pointer.exists():
        return None
    try:
        name = json.loads(pointer.read_text())["name"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise CheckpointError(
            f"{pointer} is damaged ({err}). Delete it to resume from an older checkpoint in "
            f"{pointer.parent}, or train into a new --out folder."
        ) from err
    folder = run_dir / CHECKPOINTS / str(name)
    if not (folder / STATE).is_file():
        raise CheckpointError(
            f"{pointer} names {folder}, which is incomplete; delete {pointer} to start over."
        )
    return folder


def load_state(folder: Path) -> dict[str, Any]:
    """The trainer state saved in checkpoint ``folder``.

    Raises:
        CheckpointError: when ``state.json`` is missing or not valid JSON.

    """
    try:
        state = json.loads((folder / STATE).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"Cannot read {folder / STATE} ({err}); the checkpoint is corrupt.") from err
    if not isinstance(state, dict) or not isinstance(state.get("step"), int):
        raise CheckpointError(f"{folder / STATE} has no integer 'step'; the checkpoint is corrupt.")
    return state


def load_optimizer(folder: Path, optimizer: Any) -> None:
    """Restore ``optimizer`` from checkpoint ``folder`` (no-op when none was saved).

    Raises:
        CheckpointError: when the file is corrupt or does not fit the optimizer.

    """
    import torch

    path = folder / OPTIMIZER
    if not path.exists():
        return
    try:
        optimizer.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as err:  # pickle/zip/shape errors come in many types
        raise CheckpointError(
            f"Cannot restore the optimizer from {path} ({type(err).__name__}: {err})."
        ) from err


def prune_checkpoints(run_dir: Path, keep: int) -> None:
    """Delete all but the ``keep`` newest ``step_*`` checkpoints (never the one ``latest`` names).

    Also deletes the hidden temporary folders that writes interrupted by a killed process left in the
    run folder and its checkpoints (see :func:`rlft.errors.atomic_dir`).
    """
    root = run_dir / CHECKPOINTS
    folders = sorted(p for p in root.glob("step_*") if p.is_dir())
    try:
        latest = latest_checkpoint(run_dir)
    except CheckpointError:
        return  # never delete anything while the pointer is damaged
    for folder in (root, run_dir):
        _remove_interrupted_writes(folder)
    for folder in folders[: max(0, len(folders) - keep)]:
        if latest is None or folder.resolve() != latest.resolve():
            shutil.rmtree(folder, ignore_errors=True)


def _remove_interrupted_writes(folder: Path) -> None:
    """Delete the ``.NAME.tmp-*`` / ``.NAME.old-*`` folders of atomic writes a killed process left.

    Only where ``NAME`` itself is in place: a process killed between :func:`rlft.errors.atomic_dir`'s two
    renames leaves the only copies in those folders, and they are kept for a person to recover.
    """
    for stale in folder.glob(".*"):
        match = _INTERRUPTED_WRITE.fullmatch(stale.name)
        if match and stale.is_dir() and (folder / match[1]).is_dir():
            shutil.rmtree(stale, ignore_errors=True)
