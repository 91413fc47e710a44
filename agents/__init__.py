"""rlft.agents: behaviour cloning, RL fine-tuning, evaluation, and the ``rlft demo`` pipeline.

Importing this package is cheap; torch and stable-baselines3 load when training starts.

Typical use::

    from rlft.demos import collect_demos
    from rlft.agents import BCConfig, RLConfig, train_bc, train_rl, evaluate, PolicyAgent, load_agent_policy

    demos = collect_demos("rlft/WebShop-v0", 50, out="runs/demos")
    bc = train_bc(BCConfig(dataset="runs/demos", out_dir="runs/bc", backbone="minilm"))
    rl = train_rl(RLConfig("rlft/WebShop-v0", init_policy=str(bc.policy_dir), out_dir="runs/rl",
                           anchor_dataset="runs/demos"))
    report = evaluate(PolicyAgent(load_agent_policy(rl.policy_dir)), ["rlft/WebShop-v0"], ["test"])
"""

from rlft.agents.bc import BCConfig, BCResult, train_bc
from rlft.agents.evaluate import (
    Agent,
    EvalReport,
    ExpertAgent,
    PolicyAgent,
    RandomAgent,
    TaskResult,
    bootstrap_interval,
    evaluate,
    evaluate_agent,
    wilson_interval,
)
from rlft.agents.policy_io import load_agent_policy
from rlft.agents.rl import RLConfig, RLResult, train_rl

__all__ = [
    "Agent",
    "BCConfig",
    "BCResult",
    "EvalReport",
    "ExpertAgent",
    "PolicyAgent",
    "RLConfig",
    "RLResult",
    "RandomAgent",
    "TaskResult",
    "bootstrap_interval",
    "evaluate",
    "evaluate_agent",
    "load_agent_policy",
    "train_bc",
    "train_rl",
    "wilson_interval",
]
