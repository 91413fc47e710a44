"""Policy checkpoints: ``model.safetensors`` + ``config.json``; loading never unpickles anything.

``config.json`` holds the :class:`PolicyConfig` (backbone spec, head, fine-tuning mode and LoRA
settings), the environment interface, the head kind, the list of stored tensors and a SHA-256
fingerprint of the tensors that were *not* stored (frozen pretrained backbone weights and buffers,
rebuilt from the backbone spec on load). ``model.safetensors`` holds every trainable parameter (LoRA
adapters, or the whole backbone under ``full``) and the head; ``include_frozen=True`` stores everything.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from rlft.errors import CheckpointError, RlftError, atomic_write_text
from rlft.policies.config import PolicyConfig
from rlft.policies.interface import EnvInterface

__all__ = [
    "CONFIG_FILE",
    "WEIGHTS_FILE",
    "Checkpoint",
    "Checkpointable",
    "fingerprint",
    "is_stored",
    "named_tensors",
    "read_checkpoint",
    "read_checkpoint_config",
    "restore_tensors",
    "save_policy",
]

FORMAT = "rlft-policy"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


class Checkpointable(Protocol):
    """What a checkpoint reads from a policy (an :class:`~rlft.policies.AgentPolicy`)."""

    config: PolicyConfig
    interface: EnvInterface
    head_kind: str

    def named_parameters(self) -> Any: ...  # noqa: D102
    def named_buffers(self) -> Any: ...  # noqa: D102
    def state_dict(self) -> dict[str, Any]: ...  # noqa: D102
    def parameters(self) -> Any: ...  # noqa: D102


def named_tensors(policy: Any) -> dict[str, torch.Tensor]:
    """Parameters (tied weights once) and persistent buffers of a module, by state-dict name."""
    tensors = dict(policy.named_parameters())
    state_names = set(policy.state_dict().keys())
    tensors.update({n: b for n, b in policy.named_buffers() if n in state_names})
    return tensors


def is_stored(name: str, tensor: torch.Tensor, include_frozen: bool) -> bool:
    """Whether a checkpoint stores ``name``: everything but frozen ``backbone.*`` tensors (unless asked)."""
    if include_frozen or not name.startswith("backbone."):
        return True
    return isinstance(tensor, torch.nn.Parameter) and tensor.requires_grad


def fingerprint(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over names, dtypes, shapes and bytes of ``tensors`` (sorted by name)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def save_policy(policy: Checkpointable, directory: str | Path, include_frozen: bool = False) -> Path:
    """Write ``policy`` to ``directory`` (created if missing); returns the directory."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = named_tensors(policy)
    stored = {n: t.detach().cpu().contiguous() for n, t in tensors.items() if is_stored(n, t, include_frozen)}
    frozen = {n: t for n, t in tensors.items() if n not in stored}
    meta: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "policy_config": policy.config.to_dict(),
        "interface": policy.interface.to_dict(),
        "head_kind": policy.head_kind,
        "stored_tensors": sorted(stored),
        "frozen_fingerprint": fingerprint(frozen),
        "num_parameters": sum(p.numel() for p in policy.parameters()),
        "num_trainable_parameters": sum(p.numel() for p in policy.parameters() if p.requires_grad),
    }
    # Write the weights first and the config last: a directory with a config.json is complete.
    save_file(stored, str(directory / WEIGHTS_FILE), metadata={"format": FORMAT})
    atomic_write_text(directory / CONFIG_FILE, json.dumps(meta, indent=2, sort_keys=True))
    return directory


def read_checkpoint_config(directory: str | Path) -> dict[str, Any]:
    """Parse and check ``config.json`` of a checkpoint.

    Raises:
        CheckpointError: when it is missing, not JSON, or not an rlft policy checkpoint.
    """
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(
            f"No {CONFIG_FILE} in {directory}: not an rlft policy checkpoint "
            "(see AgentPolicy.save_pretrained)."
        )
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is corrupt: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an rlft policy checkpoint (format {FORMAT!r} expected).")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format_version {meta.get('format_version')}; this rlft reads {FORMAT_VERSION}."
        )
    return meta


@dataclass(frozen=True)
class Checkpoint:
    """A policy checkpoint read from disk, before any policy is built."""

    directory: Path
    """The folder it was read from."""
    config: PolicyConfig
    """The policy's configuration (backbone, head, fine-tuning mode ...)."""
    interface: EnvInterface
    """The environment interface the policy was built for (its ``kind`` picks the family class)."""
    meta: dict[str, Any]
    """The parsed ``config.json``."""
    tensors: dict[str, torch.Tensor]
    """The stored tensors by name."""


def read_checkpoint(directory: str | Path) -> Checkpoint:
    """Read a checkpoint without building the policy.

    Raises:
        CheckpointError: for missing/corrupt files or a config that does not list the stored tensors.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = Path(directory)
    meta = read_checkpoint_config(directory)
    try:
        missing = [key for key in ("head_kind", "frozen_fingerprint") if key not in meta]
        if missing:
            raise KeyError(missing[0])
        config = PolicyConfig.from_dict(meta["policy_config"])
        interface = EnvInterface.from_dict(meta["interface"])
        stored_names = set(meta["stored_tensors"])
    except (KeyError, TypeError, RlftError) as exc:
        raise CheckpointError(f"{directory / CONFIG_FILE} is incomplete or invalid: {exc}") from exc
    weights_path = directory / WEIGHTS_FILE
    if not weights_path.is_file():
        raise CheckpointError(f"No {WEIGHTS_FILE} in {directory}.")
    try:
        stored = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights_path} is corrupt: {exc}") from exc
    if set(stored) != stored_names:
        raise CheckpointError(f"{weights_path} does not hold the tensors listed in {CONFIG_FILE}.")
    return Checkpoint(directory, config, interface, meta, stored)


def restore_tensors(policy: Checkpointable, meta: dict[str, Any], stored: dict[str, torch.Tensor]) -> None:
    """Copy the stored tensors into a policy rebuilt from the checkpoint's config (in place).

    Raises:
        CheckpointError: for a different head, tensors that do not fit the rebuilt policy, or frozen
            backbone weights that differ from those the checkpoint was trained on.
    """
    if policy.head_kind != meta.get("head_kind"):
        raise CheckpointError(f"Checkpoint head {meta.get('head_kind')!r} rebuilt as {policy.head_kind!r}.")
    tensors = named_tensors(policy)
    unknown = sorted(set(stored) - set(tensors))
    if unknown:
        raise CheckpointError(f"Checkpoint tensors {unknown[:3]} do not exist in the rebuilt policy.")
    frozen = {n: t for n, t in tensors.items() if n not in stored}
    if fingerprint(frozen) != meta["frozen_fingerprint"]:
        raise CheckpointError(
            f"The frozen weights of backbone {policy.config.backbone!r} differ from those this checkpoint "
            "was trained with (the backbone files changed). Save with include_frozen=True to make "
            "checkpoints self-contained."
        )
    with torch.no_grad():
        for name, value in stored.items():
            target = tensors[name]
            if target.shape != value.shape:
                raise CheckpointError(
                    f"Tensor {name}: checkpoint shape {tuple(value.shape)} != policy {tuple(target.shape)}."
                )
            target.copy_(value)
