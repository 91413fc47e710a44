"""Shop goals: instructions generated from target products, fixed splits, and the purchase reward.

**Goals.** Every product yields :data:`GOALS_PER_PRODUCT` goals. A goal names the target's product type,
two or three of its attributes (material, style, features), one offered value of each of its option
dimensions and a price bound at or above its price, written with one of several templates, e.g.
``i need a machine washable cotton t-shirt with red color and size m, and price lower than 40 dollars``.
Products, not goals, are split 80/10/10 into train / validation / test, so test goals ask for products
never seen in training. Everything is a deterministic function of the content seed and the goal index.

**Reward** of buying product ``p`` with chosen options ``o`` for goal ``g`` (in [0, 1])::

    type  = 1.0 if p's type is g's type, 0.5 if only the category matches, else 0.1
    match = (#g attributes that p has + #g options chosen exactly in o + [price(p) <= bound])
            / (#g attributes + #g options + 1)
    reward = type * match

``success`` is ``reward == 1``: the right kind of product, every asked attribute, every asked option,
within budget. Any product meeting all of that earns full reward, not only the one the goal came from.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from rlft.envs.contract import SPLITS
from rlft.envs.web.sites.shop.catalog import Product

GOALS_PER_PRODUCT = 4
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)

_OPTION_PHRASES = {
    "color": "{v} color",
    "size": "size {v}",
    "scent": "{v} scent",
    "flavor": "{v} flavor",
    "pack": "{v}",
    "age": "{v}",
    "capacity": "{v} capacity",
}
_TEMPLATES = (
    "i need {article}{attrs} {ptype} with {opts}, and price lower than {price} dollars",
    "i am looking for {article}{attrs} {ptype} with {opts} that costs less than {price} dollars",
    "find me {article}{attrs} {ptype} with {opts}, under {price} dollars",
    "i want to buy {article}{attrs} {ptype} with {opts}, price under {price} dollars",
)
_LEAD_IN = re.compile(r"^\s*(i need|i am looking for|find me|i want to buy)\s+((a|an|some)\s+)?")
_PRICE_CLAUSE = re.compile(
    r",?\s*(and price lower than|that costs less than|under|price under)\s+\d+(\.\d+)?\s+dollars.*$"
)


@dataclass(frozen=True)
class Goal:
    """What one instruction asks for (JSON-able through :meth:`to_dict`)."""

    index: int
    sku: str
    category: str
    ptype: str
    attributes: tuple[str, ...]
    options: tuple[tuple[str, str], ...]
    price_max: float
    instruction: str

    def to_dict(self) -> dict[str, Any]:
        """Plain data for :class:`~rlft.envs.web.task.Task` ``goal``."""
        return {
            "index": self.index,
            "sku": self.sku,
            "category": self.category,
            "ptype": self.ptype,
            "attributes": list(self.attributes),
            "options": {k: v for k, v in self.options},
            "price_max": self.price_max,
        }


@lru_cache(maxsize=8)
def split_goal_indices(content_seed: int, num_products: int) -> dict[str, tuple[int, ...]]:
    """Goal indices of each split (products shuffled once, then cut 80/10/10)."""
    order = np.random.default_rng([content_seed, 0x5917]).permutation(num_products)
    n_train = int(num_products * SPLIT_FRACTIONS[0])
    n_val = int(num_products * SPLIT_FRACTIONS[1])
    cuts = {
        "train": order[:n_train],
        "validation": order[n_train : n_train + n_val],
        "test": order[n_train + n_val :],
    }
    return {
        split: tuple(
            int(p) * GOALS_PER_PRODUCT + v
            for p in sorted(cuts[split].tolist())
            for v in range(GOALS_PER_PRODUCT)
        )
        for split in SPLITS
    }


def make_goal(products: Sequence[Product], content_seed: int, index: int) -> Goal:
    """Build the goal numbered ``index`` (product ``index // GOALS_PER_PRODUCT``)."""
    product = products[index // GOALS_PER_PRODUCT]
    rng = np.random.default_rng([content_seed, 0x60A1, index])
    n_features = 1 + int(rng.random() < 0.5)
    features = [
        product.features[i] for i in sorted(rng.permutation(len(product.features))[:n_features].tolist())
    ]
    attrs: list[str] = list(features)
    if rng.random() < 0.3:
        attrs.append(product.style)
    if rng.random() < 0.75 or len(attrs) < 2:
        attrs.append(product.material)
    options = tuple(
        (dimension, values[int(rng.integers(len(values)))]) for dimension, values in product.options
    )
    price_max = float(5 * math.ceil(product.price * (1.0 + 0.6 * rng.random()) / 5))
    template = _TEMPLATES[int(rng.integers(len(_TEMPLATES)))]
    attrs_text = " ".join(attrs)
    # Plural product types ("boots", "coffee beans") take no article.
    article = "" if product.ptype.endswith("s") else ("an " if attrs_text[0] in "aeiou" else "a ")
    opts = " and ".join(_OPTION_PHRASES.get(d, "{v}").format(v=v) for d, v in options)
    instruction = template.format(
        article=article, attrs=attrs_text, ptype=product.ptype, opts=opts, price=f"{price_max:g}"
    )
    return Goal(
        index=index,
        sku=product.sku,
        category=product.category,
        ptype=product.ptype,
        attributes=tuple(attrs),
        options=options,
        price_max=price_max,
        instruction=instruction,
    )


def search_phrases(instruction: str) -> list[str]:
    """Derive search queries from an instruction, as a reader would.

    Returns the request without its price clause, and its core (attributes and product type, without
    the options).
    """
    request = _PRICE_CLAUSE.sub("", _LEAD_IN.sub("", instruction.lower())).strip(" ,.")
    core = request.split(" with ", 1)[0].strip()
    return list(dict.fromkeys(q for q in (core, request) if q))


def score_purchase(
    goal: Mapping[str, Any], product: Product, chosen: Mapping[str, str]
) -> tuple[float, dict]:
    """Return the reward of buying ``product`` with ``chosen`` options (module docstring), with details."""
    if product.ptype == goal["ptype"]:
        type_score = 1.0
    elif product.category == goal["category"]:
        type_score = 0.5
    else:
        type_score = 0.1
    attributes = set(product.attributes)
    attr_hits = sum(1 for a in goal["attributes"] if a in attributes)
    option_hits = sum(1 for d, v in goal["options"].items() if chosen.get(d, "").lower() == v.lower())
    price_ok = product.price <= goal["price_max"]
    total = len(goal["attributes"]) + len(goal["options"]) + 1
    match = (attr_hits + option_hits + int(price_ok)) / total
    reward = type_score * match
    details = {
        "type_score": type_score,
        "attribute_matches": attr_hits,
        "attributes_asked": len(goal["attributes"]),
        "option_matches": option_hits,
        "options_asked": len(goal["options"]),
        "price_ok": price_ok,
        "purchased_sku": product.sku,
    }
    return reward, details


def listing_matches(goal: Mapping[str, Any], product: Product) -> bool:
    """Whether a search result *looks* right: what its listing shows (type, attributes, price) fits.

    A result's title names the product's type, style, material and features, and the listing shows its
    price; only the options it offers are hidden until its page is opened.
    """
    if product.ptype != goal["ptype"] or product.price > goal["price_max"]:
        return False
    attributes = set(product.attributes)
    return all(a in attributes for a in goal["attributes"])


def satisfies(goal: Mapping[str, Any], product: Product) -> bool:
    """Whether buying ``product`` (with the asked options, which it must offer) earns full reward."""
    if not listing_matches(goal, product):
        return False
    return all(v in product.option_values(d) for d, v in goal["options"].items())
