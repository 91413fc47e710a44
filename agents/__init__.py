"""rlft.agents: behaviour cloning, RL fine-tuning, evaluation, and the ``rlft demo`` pipeline.

Importing this package is cheap; torch and stable-baselines3 load when training starts.

Typical use::

    from rlft.demos import collect_demos
    from rlft.agents import BCConfig, EvalConfig, RLConfig, run_eval, train_bc, train_rl

    demos = collect_demos("rlft/WebShop-v0", 50, out="runs/demos")
    bc = train_bc(BCConfig(dataset="runs/demos", out_dir="runs/bc", backbone="minilm", device="auto"))
    rl = train_rl(RLConfig(policy=str(bc.policy_dir), out_dir="runs/rl", anchor_dataset="runs/demos"))
    report = run_eval(EvalConfig(policy=str(rl.policy_dir)))   # the env the policy was trained on

Every config is composed from the parts in :mod:`rlft.agents.config` (run, env, policy, agent), and the
``rlft`` sub-commands' flags are generated from their fields.
"""

from rlft.agents.bc import BCConfig, BCResult, train_bc
from rlft.agents.collect import CollectConfig, run_collect
from rlft.agents.config import AgentChoice, EnvConfig, PolicyPath, PolicySpec, RunConfig, TrainConfig
from rlft.agents.episodes import Episode, EpisodeStep, episode_text, rollout_episode
from rlft.agents.evaluate import (
    Agent,
    EvalConfig,
    EvalReport,
    ExpertAgent,
    PolicyAgent,
    RandomAgent,
    TaskResult,
    bootstrap_interval,
    evaluate,
    evaluate_agent,
    run_eval,
    wilson_interval,
)
from rlft.agents.interrupt import TrainingInterrupted
from rlft.agents.policy_io import load_agent_policy
from rlft.agents.rl import RLConfig, RLResult, train_rl

__all__ = [
    "Agent",
    "AgentChoice",
    "BCConfig",
    "BCResult",
    "CollectConfig",
    "EnvConfig",
    "Episode",
    "EpisodeStep",
    "EvalConfig",
    "EvalReport",
    "ExpertAgent",
    "PolicyAgent",
    "PolicyPath",
    "PolicySpec",
    "RLConfig",
    "RLResult",
    "RandomAgent",
    "RunConfig",
    "TaskResult",
    "TrainConfig",
    "TrainingInterrupted",
    "bootstrap_interval",
    "episode_text",
    "evaluate",
    "evaluate_agent",
    "load_agent_policy",
    "rollout_episode",
    "run_collect",
    "run_eval",
    "train_bc",
    "train_rl",
    "wilson_interval",
]
