"""Tabletop task families: goals, instructions, rewards and experts.

Importing this package imports every family module, which registers the families in :data:`TASKS`.
"""

from rlft.envs.tabletop.plan import Plan
from rlft.envs.tabletop.tasks import arrangement, placement, stacking
from rlft.envs.tabletop.tasks.base import TASKS, Task

__all__ = ["TASKS", "Plan", "Task", "arrangement", "placement", "stacking"]
