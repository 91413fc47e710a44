"""Stopping a training run cleanly on Ctrl-C (SIGINT) or SIGTERM.

While :func:`stop_on_signals` is active, the first signal only sets a flag; the training loop sees it at
its next step boundary, writes a checkpoint and raises :class:`TrainingInterrupted`. A second signal
interrupts at once (the usual escape hatch when a step hangs). The ``rlft`` command prints the
exception's message and exits with status 130.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["StopFlag", "TrainingInterrupted", "restore_sigint", "stop_on_signals"]

INTERRUPT_EXIT_STATUS = 130
"""Exit status of an interrupted command (128 + SIGINT), as shells report Ctrl-C."""


def restore_sigint() -> None:
    """Let SIGINT raise KeyboardInterrupt again in a process started with SIGINT ignored.

    A non-interactive shell starts background jobs (``cmd &``, a scheduler's wrapper script) with SIGINT
    ignored, inherited by every child, and Python then never raises KeyboardInterrupt: ``kill -INT`` would
    not stop ``rlft label``, nor a study worker's collection or evaluation (training stages install their
    own handler either way). Only the main thread may set handlers; elsewhere this does nothing.
    """
    if (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    ):
        signal.signal(signal.SIGINT, signal.default_int_handler)


class TrainingInterrupted(KeyboardInterrupt):
    """A run stopped by a signal after writing its checkpoint; running the same command resumes it.

    Args:
        step: the step (BC: optimizer steps; RL: environment steps) the checkpoint holds.
        checkpoint: the checkpoint folder written.
    """

    def __init__(self, step: int, checkpoint: Path | None) -> None:
        super().__init__(f"interrupted at step {step}; run the same command to resume")
        self.step = step
        self.checkpoint = checkpoint

    def __str__(self) -> str:
        return str(self.args[0])


class StopFlag:
    """Set by the first SIGINT / SIGTERM while :func:`stop_on_signals` is active."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __bool__(self) -> bool:
        return self.signum is not None


@contextlib.contextmanager
def stop_on_signals() -> Iterator[StopFlag]:
    """Turn SIGINT / SIGTERM into a :class:`StopFlag` for the duration of the block.

    Outside the main thread (where Python cannot install handlers) the flag simply never gets set.
    """
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    signums = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.getsignal(signum) for signum in signums}

    def handler(signum: int, frame: Any) -> None:
        if flag:
            raise KeyboardInterrupt
        flag.signum = signum

    for signum in signums:
        signal.signal(signum, handler)
    try:
        yield flag
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
