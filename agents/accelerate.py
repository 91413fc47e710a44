"""Data-parallel training with Hugging Face ``accelerate``: the small glue BC (and other trainers) use.

``accelerate launch -m rlft.cli train bc ... --accelerate`` starts one process per device; each process
builds the same policy and optimizer from the same seed, takes its share of every batch
(:meth:`Accelerated.shard`), and the gradients are summed across processes before each optimizer step
(:meth:`Accelerated.sync_gradients`), so every process applies the same update and the weights stay
identical. Only the main process writes checkpoints, TensorBoard events and policies
(:attr:`Accelerated.is_main`).

Gradients are reduced explicitly instead of wrapping the policy in ``DistributedDataParallel``: rlft's
trainers call policy methods (``evaluate_actions``) rather than ``forward``, which DDP's gradient hooks
rely on. A plain run with ``--accelerate`` (no ``accelerate launch``) is one process, and its arithmetic
is exactly that of a run without the flag.

Use from a trainer::

    run = start_accelerate(config.accelerate, device)
    device = run.device
    ...
    local = run.shard(batch_indices)           # this process's rows of the global batch
    loss = run.batch_loss(per_row_loss, len(batch_indices))
    loss.backward(); run.sync_gradients(params); optimizer.step()
    if run.is_main: save(...)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rlft.errors import ConfigError, require

__all__ = ["Accelerated", "launched_processes", "start_accelerate"]

_WORLD_SIZE_VARS = ("WORLD_SIZE", "ACCELERATE_NUM_PROCESSES")


def launched_processes() -> int:
    """How many processes the launcher (``accelerate launch``, ``torchrun``) started (1 when none)."""
    for name in _WORLD_SIZE_VARS:
        value = os.environ.get(name)
        if value and value.isdigit():
            return int(value)
    return 1


@dataclass
class Accelerated:
    """One process of a (possibly single-process) data-parallel run.

    Attributes:
        accelerator: the ``accelerate.Accelerator``, or ``None`` without ``--accelerate``.
        device: where this process computes.
    """

    accelerator: Any
    device: Any

    @property
    def num_processes(self) -> int:
        """Processes in the run."""
        return 1 if self.accelerator is None else int(self.accelerator.num_processes)

    @property
    def process_index(self) -> int:
        """The rank of this process (0 on the main process)."""
        return 0 if self.accelerator is None else int(self.accelerator.process_index)

    @property
    def is_main(self) -> bool:
        """Whether this process writes files (checkpoints, events, policies)."""
        return self.process_index == 0

    def shard(self, rows: Any) -> Any:
        """The rows of a global batch this process takes (every ``num_processes``-th from its rank)."""
        return rows if self.num_processes == 1 else rows[self.process_index :: self.num_processes]

    def batch_loss(self, per_row: Any, global_rows: int) -> Any:
        """The loss whose summed gradients over processes are those of the global batch mean.

        One process: ``per_row.mean()`` (as without accelerate). Several: ``per_row.sum() / global_rows``,
        which :meth:`sync_gradients` then sums, so uneven shards still weigh every row equally.
        """
        if self.num_processes == 1:
            return per_row.mean()
        return per_row.sum() / global_rows

    def sync_gradients(self, params: Iterable[Any], average: bool = False) -> None:
        """Sum (or, with ``average``, average) every gradient over the processes (no-op for one).

        Sum pairs with :meth:`batch_loss`; average suits a loss that is already a per-process mean over
        equal shares (PPO's minibatches).
        """
        if self.num_processes == 1:
            return
        import torch

        for p in params:
            if not p.requires_grad:
                continue
            grad = p.grad if p.grad is not None else torch.zeros_like(p)
            p.grad = self.accelerator.reduce(grad, reduction="mean" if average else "sum")

    def total(self, value: float) -> float:
        """The sum of a scalar over the processes (the global loss from :meth:`batch_loss` parts)."""
        if self.num_processes == 1:
            return float(value)
        import torch

        t = torch.tensor([float(value)], device=self.device)
        return float(self.accelerator.reduce(t, reduction="sum").item())

    def wait(self) -> None:
        """Barrier: every process reaches this point before any goes on."""
        if self.accelerator is not None:
            self.accelerator.wait_for_everyone()


def start_accelerate(enabled: bool, device: Any) -> Accelerated:
    """The process's view of the run: through ``accelerate`` when ``enabled``, else a plain one.

    Args:
        enabled: the config's ``accelerate`` flag.
        device: the run's resolved device; with ``enabled`` a CPU device keeps accelerate on CPU,
            otherwise each process gets its launcher-assigned GPU.

    Raises:
        ConfigError: the command was started by a multi-process launcher without ``--accelerate``
            (every process would train alone and write the same files).
        DependencyError: accelerate is not installed (naming the extra).
    """
    if not enabled:
        if launched_processes() > 1:
            raise ConfigError(
                "This command was started with several processes (accelerate launch / torchrun) but without "
                "--accelerate; pass --accelerate so they train together."
            )
        return Accelerated(None, device)
    accelerate = require("accelerate", "--accelerate")
    accelerator = accelerate.Accelerator(cpu=getattr(device, "type", str(device)) == "cpu")
    return Accelerated(accelerator, accelerator.device)
