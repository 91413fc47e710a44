"""The encyclopedia site (``rlft/WebQA-v0``): 2,100 fictional articles, a search page, article pages.

The site serves articles about fictional people, cities, countries, organisations and works
(:mod:`~rlft.envs.web.sites.wiki_content`), a BM25 search (:mod:`~rlft.envs.web.sites.wiki_search`)
and the pages of :mod:`~rlft.envs.web.sites.wiki_html`. It is read-only: browsing changes nothing on
the server. The question answering task is :class:`~rlft.envs.web.tasks.qa.QATask`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from rlft.envs.web.render import render_page
from rlft.envs.web.site import Site, StartResponse, WSGIEnviron
from rlft.envs.web.sites.wiki_content import KnowledgeBase, knowledge_base
from rlft.envs.web.sites.wiki_html import (
    ARTICLE_PREFIX,
    article_html,
    article_url,
    main_html,
    not_found_html,
    search_html,
)
from rlft.envs.web.sites.wiki_search import SearchIndex, search_index
from rlft.envs.web.wsgi import Request, respond_html
from rlft.errors import ConfigError, check_int


def article_slug(page_url: str) -> str | None:
    """Return the slug of the article at ``page_url``, or ``None`` for any other page."""
    path = urlsplit(page_url).path
    return path[len(ARTICLE_PREFIX) :] if path.startswith(ARTICLE_PREFIX) else None


class WikiSite(Site):
    """The encyclopedia.

    Args:
        content_seed: seeds the articles (0: the standard encyclopedia).

    Raises:
        ConfigError: for a negative seed.
    """

    name = "qa"

    def __init__(self, content_seed: int = 0) -> None:
        super().__init__(check_int("content_seed", content_seed, minimum=0))
        self._load()

    def _load(self) -> None:
        # Generated once per process and content seed; shared (read-only) by every site instance.
        self.kb: KnowledgeBase = knowledge_base(self.content_seed)
        self._index: SearchIndex = search_index(self.content_seed)

    def __getstate__(self) -> dict[str, Any]:
        # Content is regenerated from the seed (cached per process) instead of being pickled.
        return {"content_seed": self.content_seed}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.content_seed = state["content_seed"]
        self._load()

    # -- serving -----------------------------------------------------------------------------------
    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        """Serve ``/``, ``/search?q=...`` and ``/wiki/<slug>``; anything else is a 404."""
        request = Request.from_environ(environ)
        if request.method not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Length", "0")])
            return [b""]
        if request.path == "/":
            return respond_html(start_response, main_html(self.kb))
        if request.path == "/search":
            query = request.param("q")[:200]
            return respond_html(start_response, search_html(self.kb, query, self._index.search(query)))
        slug = article_slug(request.path)
        if slug is not None and slug in self.kb.articles:
            return respond_html(start_response, article_html(self.kb.articles[slug]))
        return respond_html(start_response, not_found_html(request.path[:200]), "404 Not Found")

    def article_text(self, slug: str) -> str:
        """The rendered text of the article ``slug`` (what a browser shows of it)."""
        return render_page(article_html(self.kb.articles[slug]), article_url(slug)).text

    # -- server-side state -------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """Return ``{}``: the encyclopedia is read-only, browsing changes nothing on the server."""
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        """Accept the (empty) state of :meth:`get_state`.

        Raises:
            ConfigError: when ``state`` is not a state of this site.
        """
        if not isinstance(state, dict) or state:
            raise ConfigError(f"Not a state of the encyclopedia site: {state!r:.100} (expected {{}}).")
