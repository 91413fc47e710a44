"""rlft: Gymnasium environments and pretrained-backbone agents for agentic fine-tuning.

Importing the package registers every environment id (see :data:`ENV_IDS`) with Gymnasium and
imports nothing heavy: torch, transformers, playwright and pybullet load where they are used.
"""

from rlft.envs.registration import ENV_IDS, register_envs

__version__ = "0.1.0"

register_envs()

__all__ = ["ENV_IDS", "__version__"]
