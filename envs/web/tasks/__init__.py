"""The web tasks: goals, reward, candidates and expert, one :class:`~rlft.envs.web.task.WebTask` per site.

:data:`TASKS` maps the environment's ``site=`` key to the task class, imported on first use; each task
builds the site it is about.
"""

from __future__ import annotations

from typing import Any

from rlft.errors import LazyRegistry

TASKS: LazyRegistry[Any] = LazyRegistry(
    "site",
    {
        "shop": "rlft.envs.web.tasks.shop:ShopTask",
        "qa": "rlft.envs.web.tasks.qa:QATask",
        "forms": "rlft.envs.web.tasks.forms.task:FormTask",
        "miniwob": "rlft.envs.web.tasks.miniwob:MiniWoBTask",
        "browser": "rlft.envs.web.tasks.browser:WebBrowserTask",
    },
)
"""``site=`` key -> ``module:Class`` of its :class:`~rlft.envs.web.task.WebTask` (register your own)."""
