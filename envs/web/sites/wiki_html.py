"""Server-rendered HTML of the encyclopedia: main page, search results, articles, not-found.

No JavaScript; every link points to the site's own paths (``/``, ``/search?q=...``, ``/wiki/<slug>``).
Every page starts with the same header (a home link and the search form, ``GET /search`` with ``q``).
An article shows its title, category, an infobox table (``Label | value`` once rendered, plain text
so that a row can be quoted) and prose whose entity mentions link to their articles.
"""

from __future__ import annotations

from rlft.envs.web.sites.wiki_content import Article, KnowledgeBase, Link, Sentence
from rlft.envs.web.wsgi import esc, layout, url

SITE_TITLE = "Encyclopedia"
ARTICLE_PREFIX = "/wiki/"


def article_url(slug: str) -> str:
    """Return the path of the article ``slug``."""
    return ARTICLE_PREFIX + slug


def _header(query: str = "") -> str:
    return (
        f'<header><p><a href="/">{SITE_TITLE}</a></p>'
        '<form action="/search" method="get" role="search">'
        f'<input type="search" name="q" aria-label="Search" value="{esc(query)}">'
        '<button type="submit">Search</button></form></header>'
    )


def _page(title: str, body: str, query: str = "") -> str:
    return layout(f"{title} - {SITE_TITLE}", f"{_header(query)}<main>{body}</main>")


def _sentence_html(sentence: Sentence) -> str:
    return "".join(
        f'<a href="{esc(article_url(seg.slug))}">{esc(seg.text)}</a>' if isinstance(seg, Link) else esc(seg)
        for seg in sentence
    )


def article_html(article: Article) -> str:
    """Render the HTML document of ``article``."""
    rows = "".join(f"<tr><th>{esc(label)}</th><td>{esc(value)}</td></tr>" for label, value in article.infobox)
    prose = "".join(
        "<p>" + " ".join(_sentence_html(s) for s in paragraph) + "</p>" for paragraph in article.paragraphs
    )
    body = (
        f"<article><h1>{esc(article.title)}</h1><p>{esc(article.category)}</p>"
        f'<table class="infobox">{rows}</table>{prose}</article>'
    )
    return _page(article.title, body)


def search_html(kb: KnowledgeBase, query: str, slugs: list[str]) -> str:
    """Render the results page of ``query`` listing the articles ``slugs`` in rank order."""
    if not query.strip():
        body = "<h1>Search</h1><p>Type a name or a few words into the search box.</p>"
    elif not slugs:
        body = f"<h1>Search results</h1><p>No articles match {esc(query)}.</p>"
    else:
        items = "".join(
            f'<li><a href="{esc(article_url(slug))}">{esc(kb.articles[slug].title)}</a>'
            f" - {esc(kb.articles[slug].category)}</li>"
            for slug in slugs
        )
        body = f"<h1>Search results</h1><p>Articles matching {esc(query)}:</p><ol>{items}</ol>"
    return _page("Search", body, query)


def main_html(kb: KnowledgeBase) -> str:
    """Render the main page: what the encyclopedia holds and one featured article of every kind."""
    featured = [kb.entities[indices[0]] for indices in kb.by_kind.values() if indices]
    items = "".join(f'<li><a href="{esc(article_url(e.slug))}">{esc(e.name)}</a></li>' for e in featured)
    body = (
        f"<h1>{SITE_TITLE}</h1>"
        f"<p>{len(kb.articles):,} articles about the people, places, organisations and works of a "
        "fictional world. Search for a name above, or start from a featured article.</p>"
        f"<h2>Featured articles</h2><ul>{items}</ul>"
    )
    return _page(SITE_TITLE, body)


def not_found_html(path: str) -> str:
    """Render the 404 page for ``path``."""
    body = (
        f'<h1>Not found</h1><p>There is no page at {esc(path)}.</p><p><a href="{url("/")}">Main page</a></p>'
    )
    return _page("Not found", body)
