"""The run configurations every ``rlft`` command is built from, composed from a few small parts.

Each part owns one idea and each field is declared in exactly one place:

* :class:`RunConfig`: what every run has (seed, device, precision, threads, progress bars).
* :class:`ResumableConfig`: a run that writes into a run folder and can resume there (``rlft compare``);
  :class:`TrainConfig` adds checkpoints.
* :class:`EnvConfig`: how the environment is made (id, kwargs, backend, split, episode cap).
* :class:`PolicyPath`: a saved policy folder to start from or to run.
* :class:`PolicySpec`: a fresh policy (backbone, fine-tuning mode, extra policy settings).
* :class:`AgentChoice`: who acts in collect / eval: a saved policy or a baseline, greedy or sampled.
* :class:`DistributedConfig`: where the environments run: in this process, or on Ray actors.
* :class:`AccelerateConfig`: whether training runs under Hugging Face ``accelerate`` (one process per
  device).

Collect, BC, RL and eval configs (and the coming reward-model and study runs) inherit the parts they
need; the ``rlft`` sub-commands generate their flags from these fields and their docstrings.

Devices and precision are plain strings (``auto``, ``cpu``, ``cuda``, ``cuda:1``; ``fp32``, ``bf16``,
``fp16``) checked by :func:`rlft.policies.resolve_device` and :func:`rlft.policies.resolve_precision`;
:func:`rlft.policies.autocast` wraps forward passes when the precision is not ``fp32``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from rlft import __version__
from rlft.errors import ConfigError, atomic_write_text, check_choice, check_float, check_int
from rlft.policies.device import PRECISIONS, autocast, resolve_device, resolve_precision

__all__ = [
    "AGENTS",
    "PRECISIONS",
    "AccelerateConfig",
    "AgentChoice",
    "DistributedConfig",
    "EnvConfig",
    "PolicyPath",
    "PolicySpec",
    "ResumableConfig",
    "RunConfig",
    "TrainConfig",
    "autocast",
    "check_resume_config",
    "data_fingerprint",
    "observation_digest",
    "provenance",
    "resolve_device",
    "resolve_progress",
    "update_digest",
]

AGENTS: tuple[str, ...] = ("expert", "random")
"""Baseline agents: the environment's privileged solver, or uniform random admissible actions."""


def resolve_progress(progress: bool | None) -> bool:
    """Progress bars on when asked, or (``None``, auto) when stderr is a terminal."""
    if progress is None:
        return bool(getattr(sys.stderr, "isatty", lambda: False)())
    return bool(progress)


@dataclass(kw_only=True)
class RunConfig:
    """What every run has."""

    out_dir: str | None = None
    """Output folder: the run folder (train: checkpoints, best/, policy/, tb/), the dataset folder
    (collect; default under the Minari root), the report folder (eval: report.json, episodes/) or the
    comparison folder (compare: comparisons.parquet, parts/, episodes/)."""
    seed: int = 0
    """Seed of every random choice the command makes (see the command's own seed notes)."""
    device: str = "auto"
    """Where tensors live: auto (CUDA when present), cpu, cuda or cuda:N."""
    precision: str = "fp32"
    """Forward-pass precision: fp32, bf16 or fp16 (fp16 needs CUDA)."""
    num_threads: int = 1
    """torch CPU threads (1 is often fastest on small shared machines)."""
    progress: bool | None = None
    """Progress bars: on, off, or auto (None: on when stderr is a terminal)."""

    def validate(self) -> None:
        """Check every field; raise ConfigError naming the bad one."""
        check_int("seed", self.seed, 0)
        check_int("num_threads", self.num_threads)
        self.torch_device()

    def torch_device(self) -> Any:
        """The resolved ``torch.device`` (see :func:`resolve_device`), with the precision checked."""
        device = resolve_device(self.device)
        resolve_precision(self.precision, device)
        return device

    @property
    def show_progress(self) -> bool:
        """Whether progress bars are on (auto resolved)."""
        return resolve_progress(self.progress)

    def run_fields(self) -> dict[str, Any]:
        """Seed, device, precision and threads: what a pipeline passes on to each of its stages."""
        return {
            "seed": self.seed,
            "device": self.device,
            "precision": self.precision,
            "num_threads": self.num_threads,
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))


@dataclass(kw_only=True)
class ResumableConfig(RunConfig):
    """A run that writes into a run folder (out_dir, required) and can be resumed there."""

    resume: bool = True
    """Continue the run in out_dir when there is one (training: from its latest checkpoint)."""
    force_config: bool = False
    """Resume even when the settings differ from the ones the run started with (they are replaced)."""

    RESUMABLE_CHANGES: ClassVar[frozenset[str]] = frozenset(
        {"out_dir", "resume", "force_config", "progress", "num_threads", "device"}
    )
    """Fields a resumed run may change without force_config (they do not change what is made)."""

    def validate(self) -> None:
        """Check every field; raise ConfigError naming the bad one."""
        super().validate()
        self.run_dir()

    def run_dir(self) -> Path:
        """The run folder, ``out_dir``.

        Raises:
            ConfigError: out_dir is not set.
        """
        if not isinstance(self.out_dir, str) or not self.out_dir:
            raise ConfigError("out_dir is required: the run folder (--out DIR).")
        return Path(self.out_dir)


@dataclass(kw_only=True)
class TrainConfig(ResumableConfig):
    """A training run: a run folder (out_dir, required) with checkpoints, resumable."""

    keep_checkpoints: int = 2
    """How many recent checkpoints to keep."""

    RESUMABLE_CHANGES: ClassVar[frozenset[str]] = ResumableConfig.RESUMABLE_CHANGES | {"keep_checkpoints"}
    """Fields a resumed run may change without force_config (they do not change what is learned)."""

    def validate(self) -> None:
        """Check every field; raise ConfigError naming the bad one."""
        super().validate()
        check_int("keep_checkpoints", self.keep_checkpoints)


@dataclass(kw_only=True)
class EnvConfig:
    """How the environment is made."""

    env_id: str | None = None
    """Environment id (None: the one the dataset or policy records)."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra gym.make kwargs; they override those the dataset or policy records (the view among them)."""
    backend: str | None = None
    """Web page backend: text or chromium (None: the env's default; tabletop has none)."""
    split: str | None = None
    """Goal split: train, validation or test (tabletop: test = unseen colours and shapes; unseen is an
    alias). None: the command's default (DEFAULT_SPLIT: train for collect and RL, test for eval)."""
    max_steps: int | None = None
    """Cap on steps per episode (None: the env's own time limit)."""

    DEFAULT_SPLIT: ClassVar[str] = "train"
    """The split used when split is None."""

    def validate_env(self) -> None:
        """Check the env fields; raise ConfigError naming the bad one."""
        if self.max_steps is not None:
            check_int("max_steps", self.max_steps)
        if not isinstance(self.env_kwargs, Mapping):
            raise ConfigError(f"env_kwargs must be a mapping of gym.make kwargs; got {self.env_kwargs!r}.")

    @property
    def goal_split(self) -> str:
        """The split to make the env with (``DEFAULT_SPLIT`` when ``split`` is None)."""
        return self.split if self.split is not None else self.DEFAULT_SPLIT

    def make_kwargs(self, recorded: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """gym.make kwargs: the ``recorded`` ones (dataset / policy), then env_kwargs, then backend."""
        kwargs = {**dict(recorded or {}), **dict(self.env_kwargs)}
        if self.backend is not None:
            kwargs["backend"] = self.backend
        return kwargs


@dataclass(kw_only=True)
class PolicyPath:
    """A saved policy folder."""

    policy: str | None = None
    """Saved policy folder (a run's best/ or policy/, or a checkpoints/step_*/policy)."""


@dataclass(kw_only=True)
class PolicySpec(PolicyPath):
    """A fresh policy, unless policy names a saved one to start from."""

    backbone: str = "minilm"
    """Backbone spec: minilm, minilm+efficientnet, hf:<id>, tiny-bert ... (ignored with policy)."""
    finetune: str = "auto"
    """How the backbone trains: frozen, lora, full, or auto (the family's default: lora on web, frozen
    on tabletop), ignored with policy."""
    policy_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra rlft.policies.PolicyConfig fields (head_hidden, max_obs_tokens ...); the run's seed
    seeds the head unless seed is given here."""

    def policy_fields(self, seed: int) -> dict[str, Any]:
        """The PolicyConfig fields of a fresh policy; the head is seeded from ``seed`` by default."""
        return {"backbone": self.backbone, "finetune": self.finetune, "seed": seed, **self.policy_kwargs}


@dataclass(kw_only=True)
class AgentChoice(PolicyPath):
    """Who acts: a saved policy (policy) or a baseline (agent)."""

    agent: str | None = None
    """Baseline instead of a policy: expert or random."""
    sample: bool = False
    """Sample the policy's actions (seeded per episode) instead of acting greedily (argmax)."""
    temperature: float = 1.0
    """With sample: draw from softmax(logits / temperature) (a Gaussian head scales its spread); 1 is
    the policy's own distribution, above 1 gives more varied episodes (for comparisons)."""

    def validate_agent(self, *, default: str | None = None) -> str:
        """Which kind acts: ``policy``, ``expert`` or ``random``.

        Raises:
            ConfigError: when both or (without ``default``) neither of policy and agent are given.
        """
        if self.policy is not None and self.agent is not None:
            raise ConfigError("Pass either --policy DIR or --agent expert|random, not both.")
        check_float("temperature", self.temperature, 0.0)
        if self.temperature <= 0:
            raise ConfigError(f"temperature must be > 0; got {self.temperature}.")
        if self.temperature != 1.0 and not self.sample:
            raise ConfigError(
                f"temperature={self.temperature} only changes sampled actions: add --sample, or drop "
                "--temperature."
            )
        if self.policy is not None:
            return "policy"
        if self.agent is None:
            if default is None:
                raise ConfigError("Pass --policy DIR (a saved policy) or --agent expert|random.")
            return default
        return check_choice("agent", self.agent, AGENTS)


@dataclass(kw_only=True)
class DistributedConfig:
    """Where the environments run: in this process (the default) or on Ray actors (``rlft[ray]``)."""

    ray: str | None = None
    """Run the environments on Ray actors: --ray alone starts a local Ray (or joins the cluster
    RAY_ADDRESS names), --ray ADDRESS joins a running cluster (auto, HOST:6379, ray://HOST:10001)."""
    num_workers: int = 2
    """Ray actors hosting environments (with --ray)."""
    envs_per_worker: int = 2
    """Environments each Ray actor hosts (with --ray; train rl needs num_workers x envs_per_worker =
    n_envs; collect and eval run one episode per environment at a time)."""
    worker_cpus: float = 1.0
    """CPUs each Ray actor reserves (with --ray)."""
    worker_timeout: float = 120.0
    """Seconds to wait for a Ray actor's answer before it counts as dead and is restarted."""
    worker_restarts: int = 3
    """Restarts of one actor in a row (or reruns of one episode) before the run stops with an error."""

    DISTRIBUTED_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"ray", "num_workers", "envs_per_worker", "worker_cpus", "worker_timeout", "worker_restarts"}
    )
    """Fields that choose where envs run, not what they do (a resumed run may change them)."""

    def validate_distributed(self) -> None:
        """Check the distributed fields; raise ConfigError naming the bad one."""
        if self.ray is not None and not isinstance(self.ray, str):
            raise ConfigError(f"ray must be an address string (or 'local'); got {self.ray!r}.")
        check_int("num_workers", self.num_workers)
        check_int("envs_per_worker", self.envs_per_worker)
        check_float("worker_cpus", self.worker_cpus, 0.0)
        check_float("worker_timeout", self.worker_timeout, 0.0)
        check_int("worker_restarts", self.worker_restarts, 0)
        if self.worker_timeout <= 0:
            raise ConfigError(f"worker_timeout must be > 0 seconds; got {self.worker_timeout}.")

    @property
    def num_ray_envs(self) -> int:
        """Environments on Ray: ``num_workers * envs_per_worker``."""
        return self.num_workers * self.envs_per_worker

    def pool_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`rlft.envs.ray_vector.RayEnvPool` (besides factories and M)."""
        return {
            "worker_options": {"num_cpus": self.worker_cpus},
            "timeout_s": self.worker_timeout,
            "max_restarts": self.worker_restarts,
            "ray_address": self.ray,
        }


@dataclass(kw_only=True)
class AccelerateConfig:
    """Training under Hugging Face ``accelerate``: one process per device (see rlft.agents.accelerate)."""

    accelerate: bool = False
    """Train through accelerate: run the command under `accelerate launch` for one process per GPU
    (gradients averaged across processes, each process reads its own share of the data); a plain run is
    one process on the selected device."""


def check_resume_config(
    config: ResumableConfig, path: Path, resuming: bool, data: Mapping[str, str] | None = None
) -> None:
    """Write ``config`` to ``path``, refusing to resume a run started with different settings.

    A fresh run writes the file. A resumed run compares its settings with the stored ones, ignoring
    :attr:`ResumableConfig.RESUMABLE_CHANGES` and the subclass's own ``RESUMABLE_CHANGES`` (a longer step
    budget, for instance); with ``force_config`` the new settings replace the stored ones. ``data`` adds
    entries that are not settings but must match too, such as :func:`data_fingerprint` of the training data
    (the same ``--dataset`` path holding other episodes is a different run); a stored file without them, from
    an older run, is not checked for them.

    Raises:
        ConfigError: listing every differing field, old -> new, and how to proceed.
    """
    current = {**config.to_dict(), **(data or {})}
    if resuming and path.is_file():
        try:
            stored = json.loads(path.read_text())
        except json.JSONDecodeError:
            stored = {}
        free = type(config).RESUMABLE_CHANGES
        differing = {
            name: (stored.get(name), value)
            for name, value in current.items()
            if name not in free and name in stored and stored[name] != value
        }
        if differing and not config.force_config:
            lines = "; ".join(f"{name}: {old!r} -> {new!r}" for name, (old, new) in sorted(differing.items()))
            raise ConfigError(
                f"{config.out_dir} holds a run started with other settings ({lines}). Resuming would mix "
                "them. Use another --out for a new run, repeat the original settings, or pass "
                "--force-config to continue with the new ones."
            )
        if not differing:
            return
    atomic_write_text(path, json.dumps(current, indent=2))


def data_fingerprint(noun: str, items: Iterable[Any]) -> str:
    """``"<n> <noun>, sha256 <12 hex>"`` over ``items`` (each JSON-encoded; numpy values as lists).

    What :func:`check_resume_config` compares for the data a run trains on: readable in its error
    (``300 comparisons, sha256 ...`` -> ``350 comparisons, ...``) and changed by any edit of any item.
    """
    import hashlib

    digest = hashlib.sha256()
    count = 0
    for item in items:
        digest.update(json.dumps(item, sort_keys=True, default=_jsonable).encode())
        digest.update(b"\n")
        count += 1
    return f"{count} {noun}, sha256 {digest.hexdigest()[:12]}"


def update_digest(digest: Any, value: Any) -> None:
    """Feed a (nested) observation into ``digest`` (a ``hashlib`` object): text, arrays and their layout.

    Dicts by sorted key, sequences with their length, arrays with dtype and shape then their bytes (an
    image costs a hash, not a JSON list), anything else by ``repr``. Equal observations feed equal bytes.
    """
    if isinstance(value, dict):
        for key in sorted(value):
            digest.update(repr(key).encode())
            update_digest(digest, value[key])
    elif isinstance(value, (list, tuple)):
        digest.update(f"seq{len(value)}".encode())
        for item in value:
            update_digest(digest, item)
    elif hasattr(value, "tobytes") and hasattr(value, "dtype"):
        digest.update(f"{value.dtype}{getattr(value, 'shape', ())}".encode())
        digest.update(value.tobytes())  # C order whatever the array's layout
    elif isinstance(value, str):
        digest.update(b"s" + value.encode("utf-8", "surrogatepass"))
    else:
        digest.update(repr(value).encode())


def observation_digest(observation: Any) -> str:
    """A short sha256 of everything in ``observation`` (:func:`update_digest`).

    Its page, its command descriptions, its pixels: a dataset recorded again with other observations
    fingerprints differently.
    """
    import hashlib

    digest = hashlib.sha256()
    update_digest(digest, observation)
    return digest.hexdigest()[:16]


def _jsonable(value: Any) -> Any:
    """Arrays and numpy scalars as JSON values (the ``default`` of :func:`data_fingerprint`'s encoder)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot fingerprint a {type(value).__name__}")


def _git_commit() -> str | None:
    """The commit of the rlft source folder when it is a git checkout, else None."""
    import subprocess

    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", commit) else None


def provenance(**facts: Any) -> dict[str, Any]:
    """What a report needs to be reproduced: ``facts`` plus rlft version, git commit, UTC timestamp."""
    from datetime import datetime, timezone

    return {
        **facts,
        "rlft_version": __version__,
        "git_commit": _git_commit(),
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
