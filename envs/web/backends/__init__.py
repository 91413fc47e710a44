"""Browser backends that load the sites: in-process text and Chromium.

:data:`BACKENDS` maps a ``backend=`` key to ``module:Class``; classes are imported only when used, so a
backend's heavy dependency (Playwright for Chromium) loads only when that backend is chosen.
"""

from __future__ import annotations

import importlib
import inspect
from typing import TYPE_CHECKING, Any

from rlft.errors import ConfigError, DependencyError, check_choice

if TYPE_CHECKING:
    from rlft.envs.web.backends.base import Backend
    from rlft.envs.web.site import Site

BACKENDS: dict[str, str] = {
    "text": "rlft.envs.web.backends.text:TextBackend",
    "chromium": "rlft.envs.web.backends.chromium:ChromiumBackend",
}


def make_backend(name: str, site: Site, **options: Any) -> Backend:
    """Create the backend registered under ``name`` for ``site``, passing ``options`` to its class.

    Raises:
        ConfigError: for an unknown name (listing the known ones) or options the backend does not take.
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
    backend_class = getattr(module, class_name)
    try:
        inspect.signature(backend_class).bind(site, **options)
    except TypeError as error:
        raise ConfigError(f"backend={name!r} does not accept these options ({error}).") from error
    return backend_class(site, **options)
