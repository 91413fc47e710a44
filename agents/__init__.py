"""rlft.agents: behaviour cloning, RL fine-tuning, evaluation."""
