"""The shop task: buy the product the instruction describes (``rlft/WebShop-v0``).

Goals, splits and the purchase score are in :mod:`~rlft.envs.web.tasks.shop_goals`; the site
(:class:`~rlft.envs.web.sites.shop.site.ShopSite`) serves the pages and records the purchase.

Free-text candidates (:meth:`ShopTask.candidates`): on any page with a search box, ``search[...]`` with the
phrases of :func:`~rlft.envs.web.tasks.shop_goals.search_phrases` (the instruction's request without the
price, and its core without the options). Clicks and option selections come from the page itself, so
the admissible commands always contain a full-reward path: search, open a matching result, choose the
options, buy.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np
from rlft.envs.contract import check_split
from rlft.envs.web.commands import Back, Click, Goto, Search, Select, format_command
from rlft.envs.web.page import Page
from rlft.envs.web.sites.shop.catalog import NUM_PRODUCTS
from rlft.envs.web.sites.shop.site import ShopSite
from rlft.envs.web.task import Evaluation, Task, Trace, WebTask
from rlft.envs.web.tasks.shop_goals import (
    listing_matches,
    make_goal,
    satisfies,
    score_purchase,
    search_phrases,
    split_goal_indices,
)


class ShopTask(WebTask[ShopSite]):
    """Shopping goals over a :class:`ShopSite`.

    Args:
        content_seed: seed of the catalogue and of the goals.
        num_products: catalogue size (>= 100; smaller catalogues are for quick experiments).
    """

    name = "shop"

    def __init__(self, content_seed: int = 0, num_products: int = NUM_PRODUCTS) -> None:
        super().__init__(ShopSite(content_seed=content_seed, num_products=num_products))
        self._splits = split_goal_indices(self.site.content_seed, self.site.num_products)

    # -- pickling: the splits are rebuilt from the seed -------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        return {"site": self.site}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.site = state["site"]
        self._splits = split_goal_indices(self.site.content_seed, self.site.num_products)

    # -- goals -------------------------------------------------------------------------------------------
    def reset(self, rng: np.random.Generator, split: str) -> Task:
        """Forget any purchase and draw a goal of ``split``."""
        indices = self._splits[check_split(split)]
        self.site.clear()
        goal = make_goal(self.site.products, self.site.content_seed, indices[int(rng.integers(len(indices)))])
        return Task(instruction=goal.instruction, start_url="/", goal=goal.to_dict())

    def evaluate(self, task: Task, trace: Trace) -> Evaluation:
        """Score the purchase (see :mod:`~rlft.envs.web.tasks.shop_goals`); 0 until something is bought."""
        purchased = self.site.purchased()
        if purchased is None:
            return Evaluation(0.0, False, trace.stopped, {"purchased": False})
        product, options = purchased
        reward, details = score_purchase(task.goal, product, options)
        return Evaluation(reward, reward >= 1.0 - 1e-9, True, {"purchased": True, **details})

    def num_goals(self, split: str) -> int:
        """Goals in ``split`` (:data:`~rlft.envs.web.tasks.shop_goals.GOALS_PER_PRODUCT` per product)."""
        return len(self._splits[check_split(split)])

    def goal_indices(self, split: str) -> tuple[int, ...]:
        """Return the goal indices of ``split`` (sorted)."""
        return self._splits[check_split(split)]

    def instruction(self, goal_index: int) -> str:
        """Return the instruction of goal ``goal_index``."""
        return make_goal(self.site.products, self.site.content_seed, goal_index).instruction

    # -- helping agents -------------------------------------------------------------------------------------
    def candidates(self, task: Task, page: Page) -> list[str]:
        """``search[...]`` with the instruction's search phrases wherever there is a search box."""
        if not any(e.role == "searchbox" for e in page.elements):
            return []
        return [format_command(Search(phrase)) for phrase in search_phrases(task.instruction)]

    def expert_action(self, task: Task, page: Page, trace: Trace) -> str:
        """Search, open the first result that looks right, choose its options and buy, or go back.

        The expert acts on what the pages show, as a careful shopper would: it opens the first result
        whose listing fits the goal (:func:`~rlft.envs.web.tasks.shop_goals.listing_matches`: type,
        attributes, price) that it has not opened yet, and on the product page either chooses the asked
        options and buys, or goes back when the product does not offer them. Its demonstrations therefore
        never depend on what the agent cannot see (an expert that skipped such results outright would
        teach choices no observation explains).
        """
        goal = task.goal
        path = urlsplit(page.url).path
        if path.startswith("/product/"):
            product = self.site.product(path.removeprefix("/product/"))
            if product is not None and satisfies(goal, product):
                for element in page.elements:
                    if element.role == "combobox":
                        wanted = goal["options"].get(element.attrs.get("name", ""))
                        if wanted is not None and element.value != wanted:
                            return format_command(Select(element.id, wanted))
                buy = next(e for e in page.elements if e.role == "button" and e.name == "Buy now")
                return format_command(Click(buy.id))
            return format_command(Back())
        if path == "/search":
            opened = {urlsplit(url).path for url in trace.visited}
            for element in page.elements:
                href = element.attrs.get("href", "")
                if element.role == "link" and href.startswith("/product/"):
                    product_path = urlsplit(href).path
                    product = self.site.product(product_path.removeprefix("/product/"))
                    if product is not None and product_path not in opened and listing_matches(goal, product):
                        return format_command(Click(element.id))
            following = next((e for e in page.elements if e.role == "link" and e.name == "Next >"), None)
            if following is not None:
                return format_command(Click(following.id))
        phrases = search_phrases(task.instruction)
        query = dict(parse_qsl(urlsplit(page.url).query)).get("q", "")
        # A second, more specific query if the first one's results held no match.
        phrase = phrases[-1] if path == "/search" and query == phrases[0] else phrases[0]
        if any(e.role == "searchbox" for e in page.elements):
            return format_command(Search(phrase))
        home = next((e for e in page.elements if e.role == "link" and e.attrs.get("href") == "/"), None)
        return format_command(Click(home.id) if home is not None else Goto("/"))
