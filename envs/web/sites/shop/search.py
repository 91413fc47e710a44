"""The shop's search engine: SQLite FTS5 with BM25 ranking (standard library, in memory).

Products are indexed in four columns weighted for BM25: title (10), attributes and options (5), category
and type (3), description (1). Text is tokenised by FTS5's ``unicode61`` tokenizer with the Porter
stemmer, so ``shirts`` finds ``shirt``. A query is lower-cased, split into words, stripped of stop words
and matched as an ``OR`` of quoted terms, so agent text can never inject FTS5 syntax. Ties in rank are
broken by catalogue order, so results are deterministic.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections import OrderedDict
from collections.abc import Sequence

from rlft.envs.web.sites.shop.catalog import Product

MAX_RESULTS = 100
"""Results beyond this rank are not shown (10 pages of 10)."""

STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "buy",
        "by",
        "dollar",
        "dollars",
        "for",
        "from",
        "i",
        "im",
        "i'm",
        "in",
        "is",
        "it",
        "looking",
        "me",
        "my",
        "need",
        "of",
        "on",
        "or",
        "price",
        "than",
        "that",
        "the",
        "this",
        "to",
        "under",
        "want",
        "with",
        "lower",
        "less",
    ]
)
_WORD = re.compile(r"[a-z0-9]+")
_CACHE_SIZE = 512


def query_terms(query: str) -> list[str]:
    """Return the search terms of ``query``: lower-case words without stop words, first occurrence order."""
    words = _WORD.findall(query.lower())
    return list(dict.fromkeys(w for w in words if w not in STOP_WORDS))


class SearchIndex:
    """An in-memory FTS5 index over a catalogue with a small result cache."""

    def __init__(self, products: Sequence[Product]) -> None:
        self._pid = os.getpid()
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.execute(
            "CREATE VIRTUAL TABLE products USING fts5("
            "title, attributes, kind, description, tokenize='porter unicode61')"
        )
        rows = []
        for product in products:
            options = " ".join(" ".join(values) for _, values in product.options)
            attributes = f"{' '.join(product.attributes)} {options}"
            rows.append(
                (product.title, attributes, f"{product.category} {product.ptype}", product.description)
            )
        self._db.executemany(
            "INSERT INTO products(title, attributes, kind, description) VALUES (?, ?, ?, ?)", rows
        )
        self._db.commit()
        self._cache: OrderedDict[str, tuple[int, ...]] = OrderedDict()

    def search(self, query: str, limit: int = MAX_RESULTS) -> tuple[int, ...]:
        """Catalogue indices of the best ``limit`` matches of ``query``, best first (empty for no terms)."""
        terms = query_terms(query)
        if not terms:
            return ()
        key = f"{limit}:{' '.join(terms)}"
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        match = " OR ".join(f'"{term}"' for term in terms)
        cursor = self._db.execute(
            "SELECT rowid - 1 FROM products WHERE products MATCH ? "
            "ORDER BY bm25(products, 10.0, 5.0, 3.0, 1.0), rowid LIMIT ?",
            (match, limit),
        )
        result = tuple(row[0] for row in cursor)
        self._cache[key] = result
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return result

    @property
    def pid(self) -> int:
        """The process that built the index (an SQLite connection must not cross a ``fork``)."""
        return self._pid
