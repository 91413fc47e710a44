"""Full-text search over the encyclopedia: SQLite FTS5 with BM25 ranking (standard library only).

An article whose title equals the query (after normalisation) is always ranked first, as on a real
encyclopedia; the rest follow by BM25 with the title weighted ten times the body. One index is built
per process and content seed (:func:`search_index`); it is never pickled.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import threading

from rlft.envs.web.sites.wiki_content import KnowledgeBase, knowledge_base
from rlft.envs.web.sites.wiki_scoring import normalize_answer

MAX_RESULTS = 10
"""Results shown on one search page."""
_MAX_QUERY_TERMS = 16
_TERM = re.compile(r"[a-z0-9]+")
_TITLE_WEIGHT = 10.0


class SearchIndex:
    """A BM25 index over every article's title and text.

    Args:
        kb: the knowledge base to index.

    """

    def __init__(self, kb: KnowledgeBase) -> None:
        self._titles = {normalize_answer(a.title): slug for slug, a in kb.articles.items()}
        # One in-memory database shared by the threads of this process; queries are serialised.
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("CREATE VIRTUAL TABLE articles USING fts5(slug UNINDEXED, title, body)")
        self._db.executemany(
            "INSERT INTO articles VALUES (?, ?, ?)",
            [(slug, a.title, a.plain_text()) for slug, a in kb.articles.items()],
        )

    def search(self, query: str, limit: int = MAX_RESULTS) -> list[str]:
        """Slugs of the best-matching articles for ``query``, best first (empty for an empty query)."""
        terms = list(dict.fromkeys(_TERM.findall(query.lower())))[:_MAX_QUERY_TERMS]
        if not terms:
            return []
        # Quoted terms joined by OR: any word of the query may match, BM25 rewards matching more.
        match = " OR ".join(f'"{term}"' for term in terms)
        with self._lock:
            rows = self._db.execute(
                "SELECT slug FROM articles WHERE articles MATCH ?"
                " ORDER BY bm25(articles, 0, ?, 1.0), rowid LIMIT ?",
                (match, _TITLE_WEIGHT, limit + 1),
            ).fetchall()
        slugs = [row[0] for row in rows]
        exact = self._titles.get(normalize_answer(query))
        if exact is not None:
            slugs = [exact, *(s for s in slugs if s != exact)]
        return slugs[:limit]


@functools.lru_cache(maxsize=4)
def search_index(content_seed: int) -> SearchIndex:
    """Return the search index of the default knowledge base of ``content_seed``, built once per process."""
    return SearchIndex(knowledge_base(content_seed))
