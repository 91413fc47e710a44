"""rlft.envs: the environments (web and tabletop), their wrappers and their registration."""

from rlft.envs.registration import ENV_IDS, describe_envs, register_envs
from rlft.envs.wrappers import ImageObservation, TokenizeObservation

__all__ = ["ENV_IDS", "ImageObservation", "TokenizeObservation", "describe_envs", "register_envs"]
