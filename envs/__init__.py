"""rlft.envs: the environments (web and tabletop), their wrappers and their registration."""

from rlft.envs.registration import ENV_IDS, describe_envs, register_envs

__all__ = ["ENV_IDS", "describe_envs", "register_envs"]
