"""Browser backends that load the sites: in-process text, Chromium, and Chromium on live pages.

:data:`BACKENDS` maps a ``backend=`` key to ``module:Class``; classes are imported only when used, so a
backend's heavy dependency (Playwright for Chromium) loads only when that backend is chosen.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from rlft.errors import ConfigError, LazyRegistry, UnknownNameError

if TYPE_CHECKING:
    from rlft.envs.web.backends.base import Backend
    from rlft.envs.web.site import Site

BACKENDS: LazyRegistry[Any] = LazyRegistry(
    "backend",
    {
        "text": "rlft.envs.web.backends.text:TextBackend",
        "chromium": "rlft.envs.web.backends.chromium:ChromiumBackend",
        "live": "rlft.envs.web.backends.live:LiveBackend",
    },
)
"""``backend=`` key -> ``module:Class`` of its :class:`~rlft.envs.web.backends.base.Backend`."""


def make_backend(name: str, site: Site, **options: Any) -> Backend:
    """Create the backend registered under ``name`` for ``site``, passing ``options`` to its class.

    Raises:
        ConfigError: for an unknown name (listing the known ones) or options the backend does not take.
        DependencyError: when the backend's module (or what it needs) cannot be imported, naming the
            extra to install.
    """
    try:
        backend_class = BACKENDS.get(name)
    except UnknownNameError as error:
        raise ConfigError(f"backend={name!r} is not valid: {error}") from error
    try:
        inspect.signature(backend_class).bind(site, **options)
    except TypeError as error:
        raise ConfigError(f"backend={name!r} does not accept these options ({error}).") from error
    return backend_class(site, **options)
