"""Local websites, each a WSGI application with its content generator, tasks and expert.

:data:`SITE_CLASSES` maps a site key to ``module:Class``; classes are imported only when used.
"""

from __future__ import annotations

import importlib
from typing import Any

from rlft.errors import UnknownNameError, unknown_name_message

SITE_CLASSES: dict[str, str] = {
    "shop": "rlft.envs.web.sites.shop:ShopSite",
    "qa": "rlft.envs.web.sites.wiki:WikiSite",
    "forms": "rlft.envs.web.sites.forms:FormsSite",
}


def make_site(key: str, **kwargs: Any) -> Any:
    """Instantiate the site registered under ``key`` with ``kwargs``.

    Raises:
        UnknownNameError: listing the known site keys.

    """
    if key not in SITE_CLASSES:
        raise UnknownNameError(unknown_name_message("site", key, SITE_CLASSES))
    module_name, class_name = SITE_CLASSES[key].split(":")
    return getattr(importlib.import_module(module_name), class_name)(**kwargs)
