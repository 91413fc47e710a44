"""Browser backends that load the sites: in-process text and Chromium.

:data:`BACKENDS` maps a ``backend=`` key to ``module:Class``; classes are imported only when used, so a
backend's heavy dependency (Playwright for Chromium) loads only when that backend is chosen.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from rlft.errors import DependencyError, check_choice

if TYPE_CHECKING:
    from rlft.envs.web.backends.base import Backend
    from rlft.envs.web.site import Site

BACKENDS: dict[str, str] = {
    "text": "rlft.envs.web.backends.text:TextBackend",
    "chromium": "rlft.envs.web.backends.chromium:ChromiumBackend",
}


def make_backend(name: str, site: Site) -> Backend:
    """Create the backend registered under ``name`` for ``site``.

    Raises:
        ConfigError: for an unknown name (listing the known ones).
        DependencyError: when the backend's module (or what it needs) cannot be imported.

    """
    check_choice("backend", name, BACKENDS)
    module_name, class_name = BACKENDS[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        if error.name == module_name:
            raise DependencyError(
                f"backend={name!r} is not available in this version of rlft; use backend='text'."
            ) from error
        raise DependencyError(
            f"backend={name!r} needs {error.name!r}, which cannot be imported: {error}"
        ) from error
    return getattr(module, class_name)(site)
