"""The site layer of the web family: a local website as a WSGI application with server-side state.

A :class:`Site` serves pages, so the in-process text backend and the Chromium backend serve exactly the
same bytes, and holds all its server-side state (a purchase, submitted forms, an inbox) in plain
JSON-able data so that :meth:`Site.get_state` / :meth:`Site.set_state` restore it exactly. Content
(products, articles, form contents) is generated from ``content_seed``.

Goals, reward, candidates and the expert are not the site's business: they belong to its
:class:`~rlft.envs.web.task.WebTask`, which reads the state through the site's accessors.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from typing import Any, ClassVar

from rlft.envs.web.wsgi import StartResponse, WSGIEnviron

__all__ = ["Site", "StartResponse", "WSGIEnviron", "require_class_attributes"]


def require_class_attributes(cls: type, kind: str, names: tuple[str, ...]) -> None:
    """At class definition, check that a concrete subclass sets the string class attributes ``names``.

    Raises:
        TypeError: naming the class and the missing attribute (abstract subclasses are skipped).
    """
    # ABCMeta computes __abstractmethods__ only after __init_subclass__ runs, so look for them directly.
    if any(getattr(getattr(cls, n, None), "__isabstractmethod__", False) for n in dir(cls)):
        return
    for name in names:
        if not isinstance(getattr(cls, name, None), str):
            raise TypeError(f"{kind} {cls.__name__} must set the class attribute {name!r} (a string).")


class Site(abc.ABC):
    """A local website. Subclasses set :attr:`name` and implement the abstract methods.

    Args:
        content_seed: seed of the generated content.
    """

    name: ClassVar[str]
    """Short key, e.g. ``shop`` (also the host name the text backend serves it under)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        require_class_attributes(cls, "Site", ("name",))

    def __init__(self, content_seed: int = 0) -> None:
        self.content_seed = content_seed

    @abc.abstractmethod
    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        """Serve one HTTP request (WSGI). HTML only refers to this site's own origin."""

    @abc.abstractmethod
    def get_state(self) -> dict[str, Any]:
        """Return all mutable server-side state as JSON-able data."""

    @abc.abstractmethod
    def set_state(self, state: dict[str, Any]) -> None:
        """Restore state returned by :meth:`get_state`."""
