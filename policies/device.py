"""Devices and numeric precision for policies: ``resolve_device``, ``resolve_precision``, ``autocast``.

``"auto"`` picks CUDA when torch sees a GPU, else the CPU; ``"cuda"`` / ``"cuda:N"`` are checked
against the GPUs present, so a wrong device fails at start-up with a typed error rather than deep in
the first forward pass. Parameters stay float32 under every precision: ``bf16`` / ``fp16`` run the
forward pass under :func:`torch.autocast` (mixed precision), which is what :func:`autocast` returns.

Example::

    device = resolve_device("auto")
    policy = build_policy(config, obs_space, act_space, device=device)
    with autocast(device, "bf16"):
        log_prob, entropy, value = policy.evaluate_actions(obs, actions)
"""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING, Any

from rlft.errors import ConfigError, check_choice, require

if TYPE_CHECKING:
    import torch

__all__ = ["DEVICES", "PRECISIONS", "autocast", "resolve_device", "resolve_precision"]

DEVICES = "auto|cpu|cuda|cuda:N"
"""The device specs :func:`resolve_device` accepts."""

PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16")
"""Numeric precisions: float32, or mixed precision with bfloat16 / float16 autocast."""

_CUDA = re.compile(r"cuda(?::(\d+))?")


def _torch() -> Any:
    return require("torch", "policy devices")


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """Turn a device spec into a ``torch.device`` that exists on this machine.

    Args:
        spec: ``"auto"`` (or ``None``): CUDA when available, else CPU; ``"cpu"``; ``"cuda"`` (the
            current GPU) or ``"cuda:N"``; a ``torch.device`` is checked the same way.

    Raises:
        ConfigError: for an unknown spec, CUDA when torch sees no GPU, or a GPU index out of range.
        DependencyError: when torch (the ``train`` extra) is missing.
    """
    torch = _torch()
    text = "auto" if spec is None else str(spec).strip().lower()
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if text == "cpu":
        return torch.device("cpu")
    match = _CUDA.fullmatch(text)
    if match is None:
        raise ConfigError(f"device={spec!r} is not valid: use one of {DEVICES}.")
    if not torch.cuda.is_available():
        raise ConfigError(
            f"device={spec!r} needs CUDA, but torch sees no GPU (torch {torch.__version__}, "
            f"CUDA build {torch.version.cuda or 'none'}); use --device cpu or --device auto."
        )
    count = torch.cuda.device_count()
    index = int(match.group(1)) if match.group(1) is not None else torch.cuda.current_device()
    if index >= count:
        raise ConfigError(f"device={spec!r}: this machine has {count} GPU(s), cuda:0 to cuda:{count - 1}.")
    return torch.device("cuda", index)


def resolve_precision(precision: str, device: str | torch.device | None = "cpu") -> torch.dtype:
    """The autocast dtype of ``precision`` on ``device`` (``float32`` for ``fp32``).

    Raises:
        ConfigError: for an unknown precision, ``fp16`` on the CPU (no fast float16 kernels there; use
            ``bf16``), or ``bf16`` on a GPU without bfloat16 support.
    """
    torch = _torch()
    check_choice("precision", precision, PRECISIONS)
    dev = resolve_device(device)
    if precision == "fp32":
        return torch.float32
    if precision == "fp16":
        if dev.type != "cuda":
            raise ConfigError(
                "precision='fp16' needs a CUDA device; on the CPU use precision='bf16' or 'fp32'."
            )
        return torch.float16
    if dev.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError(
            f"precision='bf16' is not supported by {torch.cuda.get_device_name(dev)}; use 'fp16' or 'fp32'."
        )
    return torch.bfloat16


def autocast(device: str | torch.device | None, precision: str = "fp32") -> contextlib.AbstractContextManager:
    """A context manager that runs the forward passes inside it at ``precision`` on ``device``.

    ``fp32`` is a no-op; ``bf16`` / ``fp16`` enable :func:`torch.autocast` for the device type.
    Gradients and parameters stay float32, so optimizers need no change (``fp16`` training should
    scale its loss, e.g. with ``torch.amp.GradScaler``).

    Raises:
        ConfigError: as :func:`resolve_precision`.
    """
    torch = _torch()
    dev = resolve_device(device)
    dtype = resolve_precision(precision, dev)
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=dev.type, dtype=dtype)
