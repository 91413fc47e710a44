"""The shop site: search, paginated results, product pages with options, buy.

Pages (all server-rendered, GET links and forms, one POST):

* ``/``: a search box and category links.
* ``/search?q=...&page=N`` (or ``?category=...``): 10 results per page, at most 10 pages, each result a
  link to its product page with price and rating; ``< Prev`` / ``Next >`` links; the search box again.
* ``/product/<sku>?q=...&page=N``: title, price, rating, attributes, description and a form with one
  combobox per option dimension (starting at ``-- choose --``) and a ``Buy now`` button. The query and
  page are carried so ``Back to results`` returns to the same list.
* ``POST /buy``: buying needs every option chosen; otherwise the product page is served again with an
  error message and nothing is bought. A purchase ends the episode and redirects to ``/order``.

The site keeps one piece of server-side state, the purchase (:meth:`ShopSite.purchased`); goals, scoring,
candidates and the expert are :class:`~rlft.envs.web.tasks.shop.ShopTask`'s.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from rlft.envs.web.render import quote
from rlft.envs.web.site import Site
from rlft.envs.web.sites.shop.catalog import CATEGORIES, NUM_PRODUCTS, Product, build_catalog
from rlft.envs.web.sites.shop.search import MAX_RESULTS, SearchIndex
from rlft.envs.web.wsgi import Request, esc, layout, not_found, redirect, respond_html, url
from rlft.errors import check_int

PAGE_SIZE = 10
CHOOSE = "-- choose --"

_INDEXES: dict[tuple[int, int, int], SearchIndex] = {}


def _search_index(content_seed: int, num_products: int) -> SearchIndex:
    """One index per catalogue and process (SQLite connections must not cross ``fork``)."""
    key = (content_seed, num_products, os.getpid())
    if key not in _INDEXES:
        _INDEXES[key] = SearchIndex(build_catalog(content_seed, num_products))
    return _INDEXES[key]


class ShopSite(Site):
    """A generated shop of :data:`~rlft.envs.web.sites.shop.catalog.NUM_PRODUCTS` products.

    Args:
        content_seed: seed of the catalogue.
        num_products: catalogue size (>= 100; smaller catalogues are for quick experiments).

    """

    name = "shop"

    def __init__(self, content_seed: int = 0, num_products: int = NUM_PRODUCTS) -> None:
        super().__init__(content_seed=check_int("content_seed", content_seed, minimum=0))
        self.num_products = check_int("num_products", num_products, minimum=100)
        self.products = build_catalog(self.content_seed, self.num_products)
        self._by_sku = {p.sku: i for i, p in enumerate(self.products)}
        self._purchase: dict[str, Any] | None = None

    # -- pickling: the catalogue and the index are rebuilt from the seed ---------------------------------
    def __getstate__(self) -> dict[str, Any]:
        return {
            "content_seed": self.content_seed,
            "num_products": self.num_products,
            "purchase": self._purchase,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["content_seed"], state["num_products"])  # type: ignore[misc]
        self._purchase = state["purchase"]

    @property
    def index(self) -> SearchIndex:
        """The search engine over the catalogue."""
        return _search_index(self.content_seed, self.num_products)

    # -- server-side state ----------------------------------------------------------------------------------
    def purchased(self) -> tuple[Product, dict[str, str]] | None:
        """The product bought in this episode and the options chosen, or ``None``."""
        if self._purchase is None:
            return None
        return self.products[self._by_sku[self._purchase["sku"]]], dict(self._purchase["options"])

    def clear(self) -> None:
        """Forget any purchase (a new episode starts)."""
        self._purchase = None

    def get_state(self) -> dict[str, Any]:
        """Return the purchase, if any."""
        return {"purchase": None if self._purchase is None else dict(self._purchase)}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`get_state` data."""
        purchase = state["purchase"]
        self._purchase = (
            None if purchase is None else {"sku": purchase["sku"], "options": dict(purchase["options"])}
        )

    def product(self, sku: str) -> Product | None:
        """The product with ``sku``, or ``None``."""
        index = self._by_sku.get(sku)
        return None if index is None else self.products[index]

    # -- serving ---------------------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """Route one request."""
        request = Request.from_environ(environ)
        path = request.path
        if path == "/" and request.method == "GET":
            return respond_html(start_response, self._home())
        if path == "/search" and request.method == "GET":
            return respond_html(start_response, self._results(request))
        if path.startswith("/product/") and request.method == "GET":
            product = self.product(path.removeprefix("/product/"))
            if product is not None:
                return respond_html(start_response, self._product_page(product, request))
        if path == "/buy" and request.method == "POST":
            return self._buy(request, start_response)
        if path == "/order" and request.method == "GET":
            return respond_html(start_response, self._order())
        return not_found(start_response, path)

    def _search_form(self, query: str = "") -> str:
        return (
            '<form action="/search" method="get" role="search">'
            f'<input type="search" name="q" aria-label="Search products" value="{esc(query)}">'
            '<button type="submit">Search</button></form>'
        )

    def _home(self) -> str:
        links = "".join(
            f'<li><a href="{esc(url("/search", category=c.name))}">{esc(c.name.title())}</a></li>'
            for c in CATEGORIES
        )
        body = f"<h1>RLFT Shop</h1>{self._search_form()}<h2>Categories</h2><ul>{links}</ul>"
        return layout("RLFT Shop", body)

    def _results(self, request: Request) -> str:
        query = request.query.get("q", "")
        category = request.query.get("category", "")
        if category:
            hits: tuple[int, ...] = tuple(i for i, p in enumerate(self.products) if p.category == category)[
                :MAX_RESULTS
            ]
            heading = f"Category: {category.title()}"
        else:
            hits = self.index.search(query)
            heading = f"Results for {quote(query)}"
        pages = max(1, -(-len(hits) // PAGE_SIZE))
        page = request.int_param("page", 1, minimum=1, maximum=pages)
        shown = hits[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        items = []
        for i in shown:
            product = self.products[i]
            link = url(f"/product/{product.sku}", q=query, category=category, page=page)
            items.append(
                f'<li><a href="{esc(link)}">{esc(product.title)}</a> ${product.price:.2f}, '
                f"rated {product.rating:.1f} ({product.reviews} reviews)</li>"
            )
        if hits:
            summary = f"<p>{len(hits)} results, page {page} of {pages}.</p>"
        else:
            summary = "<p>No products match. Try other words.</p>"
        nav = []
        if page > 1:
            nav.append(
                f'<a href="{esc(url("/search", q=query, category=category, page=page - 1))}">&lt; Prev</a>'
            )
        if page < pages:
            nav.append(
                f'<a href="{esc(url("/search", q=query, category=category, page=page + 1))}">Next &gt;</a>'
            )
        nav.append('<a href="/">Home</a>')
        body = (
            f"{self._search_form(query)}<h1>{esc(heading)}</h1>{summary}<ol>{''.join(items)}</ol>"
            f"<p>{' | '.join(nav)}</p>"
        )
        return layout(f"{heading} - RLFT Shop", body)

    def _product_page(self, product: Product, request: Request, error: str = "") -> str:
        query = request.param("q")
        category = request.param("category")
        page = request.param("page")
        selects = []
        for dimension, values in product.options:
            chosen = request.form.get(dimension, "")
            opts = "".join(
                f'<option value="{esc(v)}"{" selected" if v == chosen else ""}>{esc(v)}</option>'
                for v in values
            )
            selects.append(
                f'<p><label for="opt-{esc(dimension)}">{esc(dimension.title())}</label> '
                f'<select id="opt-{esc(dimension)}" name="{esc(dimension)}">'
                f'<option value="">{CHOOSE}</option>{opts}</select></p>'
            )
        hidden = "".join(
            f'<input type="hidden" name="{k}" value="{esc(v)}">'
            for k, v in (("sku", product.sku), ("q", query), ("category", category), ("page", page))
            if v
        )
        back = url("/search", q=query, category=category, page=page) if (query or category) else "/"
        features = "".join(f"<li>{esc(f)}</li>" for f in product.features)
        error_html = f'<p role="alert">{esc(error)}</p>' if error else ""
        body = (
            f'<p><a href="{esc(back)}">&lt; Back to results</a> | <a href="/">Home</a></p>'
            f"<h1>{esc(product.title)}</h1>"
            f"<p>Price: ${product.price:.2f}</p>"
            f"<p>Rating: {product.rating:.1f} out of 5 ({product.reviews} reviews)</p>"
            f"<p>Brand: {esc(product.brand)} | Category: {esc(product.category)} | "
            f"Material: {esc(product.material)} | Style: {esc(product.style)}</p>"
            f'{error_html}<form action="/buy" method="post">{hidden}{"".join(selects)}'
            '<button type="submit">Buy now</button></form>'
            f"<h2>Features</h2><ul>{features}</ul><h2>Description</h2><p>{esc(product.description)}</p>"
        )
        return layout(f"{product.title} - RLFT Shop", body)

    def _buy(self, request: Request, start_response: Any) -> list[bytes]:
        product = self.product(request.form.get("sku", ""))
        if product is None:
            return not_found(start_response, "/buy")
        chosen = {}
        for dimension, values in product.options:
            value = request.form.get(dimension, "")
            if value not in values:
                html = self._product_page(product, request, f"Please choose a {dimension} before buying.")
                return respond_html(start_response, html)
            chosen[dimension] = value
        self._purchase = {"sku": product.sku, "options": chosen}
        return redirect(start_response, "/order")

    def _order(self) -> str:
        if self._purchase is None:
            body = '<h1>No order yet</h1><p><a href="/">Home</a></p>'
        else:
            product = self.products[self._by_sku[self._purchase["sku"]]]
            options = ", ".join(f"{k}: {v}" for k, v in self._purchase["options"].items())
            body = (
                f"<h1>Thank you for your order</h1><p>You bought {esc(product.title)}"
                f"{' (' + esc(options) + ')' if options else ''} for ${product.price:.2f}.</p>"
            )
        return layout("Order - RLFT Shop", body)
