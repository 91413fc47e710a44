"""RL fine-tuning with PPO / MaskablePPO (stable-baselines3), starting from a behaviour-cloned policy.

Read top to bottom: load the BC policy (the *same* policy object continues training; its value head,
which BC does not train, is learned by PPO from the first update), wrap ``n_envs`` environments into
SB3's fixed-shape view (:mod:`rlft.policies.sb3`: web envs become ``Discrete(K)`` with
``action_masks()`` for MaskablePPO, tabletop envs keep their pick-and-place head under PPO), build the
SB3 algorithm around the policy's modules, optionally add an anchor that keeps the policy close to
BC (:mod:`rlft.agents.anchor`), and learn. Checkpoints hold the policy (safetensors), the optimizer
state and the step count; running the same command again resumes from the latest one and continues
the timestep count (with the checks and signal handling of :mod:`rlft.agents.bc`). Saved policies carry
the environment they were trained on, so ``train_rl`` with only ``policy`` makes the same environment.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from rlft.agents.algorithms import ALGORITHMS, make_ppo, use_maskable
from rlft.agents.anchor import ANCHORS, AnchorHook
from rlft.agents.checkpoint import (
    latest_checkpoint,
    load_optimizer,
    load_state,
    save_checkpoint,
    tensorboard_writer,
)
from rlft.agents.config import EnvConfig, PolicySpec, TrainConfig, autocast, check_resume_config
from rlft.agents.interrupt import TrainingInterrupted, stop_on_signals
from rlft.agents.policy_io import (
    env_spaces,
    load_agent_policy,
    resolve_env,
    save_agent_policy,
    start_policy,
)
from rlft.demos.dataset import load_demos
from rlft.demos.envs import check_env_id, make_env
from rlft.errors import ConfigError, atomic_dir, check_choice, check_float, check_int

__all__ = ["ALGORITHMS", "RLConfig", "RLResult", "train_rl"]

logger = logging.getLogger(__name__)


@dataclass
class RLConfig(TrainConfig, EnvConfig, PolicySpec):
    """PPO / MaskablePPO fine-tuning of a policy on an environment (train_rl; the rlft train rl flags).

    The environment defaults to the one the starting policy records (id, kwargs such as the tabletop
    view); without a starting policy a fresh one is built from backbone. The seed seeds the
    environments (env i resets from seed + i), PPO, the anchor's minibatches and a fresh policy's head.
    """

    algorithm: str = "auto"
    """auto (MaskablePPO for web, PPO for tabletop), ppo or maskable_ppo."""
    env_steps: int = 2048
    """Environment steps in total, over all parallel envs (resumed runs count the steps already done)."""
    n_envs: int = 4
    """Parallel environments."""
    n_steps: int = 64
    """Rollout length per environment between updates."""
    batch_size: int = 32
    """PPO minibatch size."""
    n_epochs: int = 4
    """PPO epochs per update."""
    lr: float = 1e-4
    """Adam learning rate (lower than BC: the policy is already good)."""
    gamma: float = 0.99
    """Discount."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    clip_range: float = 0.2
    """PPO clip range."""
    ent_coef: float = 0.0
    """Entropy bonus."""
    vf_coef: float = 0.5
    """Value loss weight."""
    max_grad_norm: float = 0.5
    """Gradient clipping norm (the anchor's gradient is clipped to it separately)."""
    anchor: str = "bc"
    """Keep the policy close to BC: bc (NLL of demonstrations), kl (KL to the frozen starting policy on
    rollout states) or none."""
    anchor_coef: float = 0.1
    """Weight of the anchor loss."""
    anchor_dataset: str | None = None
    """Demonstrations for anchor bc."""
    anchor_batch_size: int = 16
    """Minibatch size of the anchor loss."""
    checkpoint_every: int = 1024
    """Checkpoint every this many environment steps (rounded to whole rollouts) and at the end."""

    RESUMABLE_CHANGES: ClassVar[frozenset[str]] = TrainConfig.RESUMABLE_CHANGES | {
        "env_steps",
        "checkpoint_every",
    }
    """A resumed run may train longer and checkpoint at another pace."""

    def validate(self) -> None:
        """Check every field; raise ConfigError naming the bad one."""
        if self.precision == "fp16":
            raise ConfigError("RL supports precision fp32 or bf16 (SB3's update has no fp16 loss scaling).")
        super().validate()
        self.validate_env()
        if self.env_id is not None:
            check_env_id(self.env_id)
        check_choice("algorithm", self.algorithm, ALGORITHMS)
        check_choice("anchor", self.anchor, ANCHORS)
        for name in ("env_steps", "n_envs", "n_steps", "batch_size", "n_epochs", "anchor_batch_size"):
            check_int(name, getattr(self, name))
        check_int("checkpoint_every", self.checkpoint_every)
        check_float("lr", self.lr, 0.0)
        check_float("gamma", self.gamma, 0.0, 1.0)
        check_float("gae_lambda", self.gae_lambda, 0.0, 1.0)
        check_float("clip_range", self.clip_range, 0.0)
        check_float("ent_coef", self.ent_coef, 0.0)
        check_float("vf_coef", self.vf_coef, 0.0)
        check_float("max_grad_norm", self.max_grad_norm, 0.0)
        check_float("anchor_coef", self.anchor_coef, 0.0)
        if self.anchor == "bc" and not self.anchor_dataset:
            raise ConfigError(
                "anchor='bc' needs anchor_dataset (--anchor-dataset DIR), or use anchor='kl'/'none'."
            )
        if self.anchor == "kl" and self.policy is None:
            raise ConfigError("anchor='kl' keeps the policy close to its start: pass --policy DIR.")
        if self.env_id is None and self.policy is None:
            raise ConfigError(
                "Pass the environment id (rlft train rl ENV_ID) or --policy DIR that records it."
            )


@dataclass
class RLResult:
    """What :func:`train_rl` produced."""

    policy_dir: Path
    """The fine-tuned policy (``out_dir/policy``)."""
    timesteps: int
    """Environment steps done in total."""
    resumed_from: int = 0
    """Timestep the run resumed from (0 for a fresh run)."""
    seconds: float = 0.0
    """Wall time of this call."""
    metrics: dict[str, float] = field(default_factory=dict)
    """Last logged training metrics (mean episode reward / success in rollouts, anchor loss)."""


def train_rl(config: RLConfig) -> RLResult:
    """Fine-tune ``config.policy`` (or a fresh ``config.backbone`` policy) with PPO / MaskablePPO.

    Raises:
        UnknownEnvError: unknown environment id.
        CheckpointError: missing or corrupt initial policy or run checkpoint (nothing is overwritten).
        ModalityError: the policy does not fit the environment.
        DatasetError: ``anchor_dataset`` is missing or corrupt.
        ConfigError: invalid settings, ``out_dir`` holds checkpoints and ``resume`` is off, or it holds a
            run started with other settings (see ``force_config``).
        TrainingInterrupted: SIGINT / SIGTERM arrived; a checkpoint of the last step was written.

    """
    import torch

    t0 = time.perf_counter()
    config.validate()
    device = config.torch_device()
    torch.set_num_threads(config.num_threads)
    run_dir = config.run_dir()
    env = resolve_env(config, config.policy)
    obs_space, act_space = env_spaces(env["env_id"], env["split"], env["env_kwargs"])

    # The policy: the latest checkpoint of this run, else the starting policy, else a fresh one.
    latest = latest_checkpoint(run_dir)
    if latest is not None and not config.resume:
        raise ConfigError(
            f"{run_dir} already holds checkpoints; pass resume=True (--resume) to continue, "
            "or choose another --out so they are not overwritten."
        )
    check_resume_config(config, run_dir / "rl_config.json", resuming=latest is not None)
    start = load_state(latest)["step"] if latest is not None else 0
    policy = start_policy(config, latest, obs_space, act_space, device)
    # validate() made sure the anchor has what it needs: a dataset for bc, a starting policy for kl.
    demos = (
        load_demos(config.anchor_dataset).transitions()
        if config.anchor == "bc" and config.anchor_dataset
        else []
    )
    reference = (
        load_agent_policy(config.policy, obs_space, act_space, device=device, progress=config.show_progress)
        if config.anchor == "kl" and config.policy is not None
        else None
    )
    env_record = {"env_id": env["env_id"], "env_kwargs": env["env_kwargs"], "split": env["split"]}

    # Environments in SB3's fixed-shape view, and the SB3 algorithm around the policy's own modules.
    vec_env = _make_vec_env(config, env, policy, seed=config.seed + start)
    model = make_ppo(
        policy,
        vec_env,
        maskable=use_maskable(config.algorithm, policy),
        seed=config.seed,
        device=device,
        learning_rate=config.lr,
        n_steps=config.n_steps,
        batch_size=config.batch_size,
        n_epochs=config.n_epochs,
        gamma=config.gamma,
        gae_lambda=config.gae_lambda,
        clip_range=config.clip_range,
        ent_coef=config.ent_coef,
        vf_coef=config.vf_coef,
        max_grad_norm=config.max_grad_norm,
        verbose=0,
    )
    model.set_logger(_tensorboard_logger(run_dir / "tb" / "rl_1", purge_step=start))
    optimizer = model.policy.optimizer
    if latest is not None:
        load_optimizer(latest, optimizer)
        model.num_timesteps = start
        logger.info("resuming RL from %s (timestep %d)", latest, start)

    hook = _make_anchor(config, model, policy, reference, demos)
    handle = optimizer.register_step_pre_hook(hook) if hook is not None else None
    remaining = max(0, config.env_steps - start)
    with stop_on_signals() as stop:
        callback = _checkpoint_callback(run_dir, policy, config, hook, start, env_record, stop)
        try:
            if remaining > 0:
                with autocast(device, config.precision):
                    model.learn(
                        total_timesteps=remaining,
                        callback=callback,
                        reset_num_timesteps=latest is None,
                        progress_bar=False,  # SB3's bar needs `rich`; the callback drives a tqdm bar
                    )
        finally:
            if handle is not None:
                handle.remove()
            vec_env.close()
            model.logger.close()
        done = int(model.num_timesteps)
        if done > callback.last_saved:
            callback.save(done)
        if stop:
            raise TrainingInterrupted(done, latest_checkpoint(run_dir))
    atomic_dir(run_dir / "policy", lambda d: save_agent_policy(policy, d, env_record))
    return RLResult(
        policy_dir=run_dir / "policy",
        timesteps=done,
        resumed_from=start,
        seconds=time.perf_counter() - t0,
        metrics=callback.metrics,
    )


def _tensorboard_logger(folder: Path, purge_step: int) -> Any:
    """An SB3 logger writing TensorBoard events to ``folder``, dropping events at or past ``purge_step``.

    A resumed run starts from its last checkpoint; what the interrupted run logged after it would
    otherwise appear twice.
    """
    from stable_baselines3.common.logger import Logger, TensorBoardOutputFormat

    class PurgingTensorBoard(TensorBoardOutputFormat):
        def __init__(self) -> None:
            self.writer = tensorboard_writer(folder, purge_step)
            self._is_closed = False

    return Logger(folder=str(folder), output_formats=[PurgingTensorBoard()])


def _make_vec_env(config: RLConfig, env: dict[str, Any], policy: Any, seed: int) -> Any:
    """``n_envs`` environments in one process (``DummyVecEnv``), each seen through the policy's encoder.

    In-process on purpose: the wrapper encodes observations with the policy's tokenizer, and the policy
    forward pass dominates the step time, so subprocess workers would only copy the model around.
    """
    from rlft.policies.sb3 import make_sb3_env
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    def factory() -> Any:
        return Monitor(
            make_sb3_env(
                make_env(env["env_id"], env["split"], env["env_kwargs"], max_steps=env["max_steps"]), policy
            ),
            info_keywords=("success",),
        )

    vec_env = DummyVecEnv([factory] * config.n_envs)
    vec_env.seed(seed)  # env i resets with seed + i
    return vec_env


def rollout_kl(model: Any, policy: Any, reference: Any, indices: Any) -> Any:
    """Mean ``KL(policy || reference)`` over rollout-buffer rows ``indices`` (``policy.kl_divergence``)."""
    import torch

    buffer = model.rollout_buffer
    rows = buffer.buffer_size * buffer.n_envs
    # Before PPO's first minibatch the arrays are (n_steps, n_envs, ...), after it (n_steps * n_envs, ...);
    # rows are sampled at random, so either layout flattens to valid rows.
    obs = {
        key: value.reshape(rows, *buffer.obs_shape[key])[indices]
        for key, value in buffer.observations.items()
    }
    logits, _ = policy(policy.to_tensors(obs))
    with torch.no_grad():
        ref_logits, _ = reference(reference.to_tensors(obs))
    return policy.kl_divergence(logits, ref_logits).mean()


def _make_anchor(
    config: RLConfig, model: Any, policy: Any, reference: Any, demos: list[Any]
) -> AnchorHook | None:
    """The anchor hook of ``config.anchor`` (``None`` for ``none`` or a zero weight)."""
    if config.anchor == "none" or config.anchor_coef == 0.0:
        return None
    params = [p for group in model.policy.optimizer.param_groups for p in group["params"]]
    if config.anchor == "bc":

        def bc_loss(obs: list[Any], actions: list[Any]) -> Any:
            log_prob, _, _ = policy.evaluate_actions(obs, actions)
            return -log_prob.mean()

        return AnchorHook(
            "bc",
            config.anchor_coef,
            params,
            config.max_grad_norm,
            bc_loss=bc_loss,
            demos=demos,
            batch_size=config.anchor_batch_size,
            seed=config.seed,
        )
    reference.eval()
    for p in reference.parameters():
        p.requires_grad_(False)

    def kl_loss(indices: Any) -> Any:
        return rollout_kl(model, policy, reference, indices)

    def rollout_size() -> int:
        buffer = model.rollout_buffer
        return int(buffer.buffer_size * buffer.n_envs)

    return AnchorHook(
        "kl",
        config.anchor_coef,
        params,
        config.max_grad_norm,
        kl_loss=kl_loss,
        rollout_size=rollout_size,
        batch_size=config.anchor_batch_size,
        seed=config.seed,
    )


def _checkpoint_callback(
    run_dir: Path,
    policy: Any,
    config: RLConfig,
    hook: AnchorHook | None,
    start: int,
    env_record: dict[str, Any],
    stop: Any,
) -> Any:
    """An SB3 callback: rollout metrics to the logger, atomic checkpoints every ``checkpoint_every`` steps.

    The class is defined here, not at module level, so importing :mod:`rlft.agents.rl` stays free of
    stable-baselines3 (and torch) until training starts.
    """
    from stable_baselines3.common.callbacks import BaseCallback
    from tqdm.auto import tqdm

    class CheckpointCallback(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.last_saved = start
            self.metrics: dict[str, float] = {}
            self.successes: list[float] = []
            self.bar: Any = None

        def _on_training_start(self) -> None:
            self.bar = tqdm(
                total=config.env_steps,
                initial=start,
                desc="train rl",
                unit="step",
                disable=not config.show_progress,
            )

        def _on_training_end(self) -> None:
            self.bar.close()

        def _on_step(self) -> bool:
            infos = self.locals.get("infos", [])
            for info in infos:
                if "episode" in info:
                    self.successes.append(float(info.get("success", False)))
            self.bar.update(len(infos))
            return not stop  # a signal ends learn() here; train_rl then checkpoints

        def _on_rollout_end(self) -> None:
            model = self.model
            if model.ep_info_buffer:
                returns = [e["r"] for e in model.ep_info_buffer]
                self.metrics["rollout_return"] = float(sum(returns) / len(returns))
            if self.successes:
                recent = self.successes[-100:]
                self.metrics["rollout_success"] = sum(recent) / len(recent)
                self.logger.record("rollout/success_rate", self.metrics["rollout_success"])
            if hook is not None and hook.calls:
                self.metrics["anchor_loss"] = hook.last_loss
                self.logger.record("train/anchor_loss", hook.last_loss)

        def _on_rollout_start(self) -> None:
            # Runs after PPO's update for the previous rollout, so the saved weights include it.
            steps = int(self.model.num_timesteps)
            if steps - self.last_saved >= config.checkpoint_every:
                self.save(steps)

        def save(self, steps: int) -> None:
            save_checkpoint(
                run_dir,
                steps,
                policy,
                self.model.policy.optimizer,
                {"metrics": self.metrics},
                keep=config.keep_checkpoints,
                save_policy=lambda p, d: save_agent_policy(p, d, env_record),
            )
            self.last_saved = steps

    return CheckpointCallback()
