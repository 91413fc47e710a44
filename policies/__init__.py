"""rlft.policies: pretrained backbones, adapter heads and stable-baselines3 policy classes."""
