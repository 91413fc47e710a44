"""The shop: generated catalogue, BM25 search, goals and splits, the purchase reward, the expert."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import rlft  # noqa: F401  (registers the ids)
from rlft.envs.contract import SPLITS
from rlft.envs.web.sites.shop.catalog import CATEGORIES, NUM_PRODUCTS, build_catalog
from rlft.envs.web.sites.shop.search import SearchIndex, query_terms
from rlft.envs.web.tasks.shop import ShopTask
from rlft.envs.web.tasks.shop_goals import (
    GOALS_PER_PRODUCT,
    listing_matches,
    make_goal,
    satisfies,
    score_purchase,
    search_phrases,
)


@pytest.fixture(scope="module")
def shop() -> ShopTask:
    return ShopTask()


def test_catalogue_size_variety_and_determinism(shop: ShopTask) -> None:
    products = shop.site.products
    assert len(products) == NUM_PRODUCTS >= 5000
    assert len({p.category for p in products}) == len(CATEGORIES) >= 10
    assert len({p.sku for p in products}) == len(products)
    assert len({p.title for p in products}) > 0.95 * len(products)
    for p in products[:500]:
        assert p.price > 0 and 3.0 <= p.rating <= 5.0 and p.options and p.description
        assert all(len(values) >= 2 for _, values in p.options)
        assert p.ptype in p.title and p.material in p.title
    assert build_catalog(0) is build_catalog(0)  # cached per process
    other = build_catalog(1)
    assert [p.title for p in other[:50]] != [p.title for p in products[:50]]
    assert [p.title for p in build_catalog(1)[:50]] == [p.title for p in other[:50]]


def test_splits_are_fixed_disjoint_by_product_and_large(shop: ShopTask) -> None:
    sizes = {split: shop.num_goals(split) for split in SPLITS}
    assert sizes == {"train": 16000, "validation": 2000, "test": 2000}
    products = {split: {g // GOALS_PER_PRODUCT for g in shop.goal_indices(split)} for split in SPLITS}
    assert not products["train"] & products["test"]
    assert not products["train"] & products["validation"]
    assert not products["validation"] & products["test"]
    instructions = {shop.instruction(g) for split in SPLITS for g in shop.goal_indices(split)}
    assert len(instructions) >= 10_000
    assert ShopTask().goal_indices("test") == shop.goal_indices("test")


def test_instruction_names_everything_the_reward_checks(shop: ShopTask) -> None:
    for index in shop.goal_indices("validation")[:300]:
        goal = make_goal(shop.site.products, 0, index)
        text = goal.instruction
        assert goal.ptype in text and f"{goal.price_max:g} dollars" in text
        assert all(a in text for a in goal.attributes)
        assert all(v in text for _, v in goal.options)
        target = shop.site.products[index // GOALS_PER_PRODUCT]
        assert satisfies(goal.to_dict(), target)
        reward, _ = score_purchase(goal.to_dict(), target, dict(goal.options))
        assert reward == 1.0
        phrases = search_phrases(text)
        assert phrases and all("dollars" not in q and goal.ptype in q for q in phrases)
        assert target.sku not in " ".join(phrases)


def test_reward_formula_gives_partial_credit(shop: ShopTask) -> None:
    goal = make_goal(shop.site.products, 0, shop.goal_indices("test")[0]).to_dict()
    target = shop.site.products[goal["index"] // GOALS_PER_PRODUCT]
    asked = len(goal["attributes"]) + len(goal["options"]) + 1
    wrong = {d: "nope" for d in goal["options"]}
    wrong_one = dict(goal["options"], **{next(iter(goal["options"])): "nope"})
    assert score_purchase(goal, target, wrong_one)[0] == pytest.approx((asked - 1) / asked)
    assert score_purchase(goal, target, wrong)[0] == pytest.approx((asked - len(goal["options"])) / asked)
    cheap_goal = dict(goal, price_max=0.5)
    reward, details = score_purchase(cheap_goal, target, goal["options"])
    assert reward == pytest.approx((asked - 1) / asked) and details["price_ok"] is False
    same_category = next(
        p for p in shop.site.products if p.category == target.category and p.ptype != target.ptype
    )
    other_category = next(p for p in shop.site.products if p.category != target.category)
    assert score_purchase(goal, same_category, goal["options"])[0] <= 0.5
    assert score_purchase(goal, other_category, goal["options"])[0] <= 0.1
    assert score_purchase(goal, other_category, {})[0] >= 0.0


def test_search_ranks_with_bm25_and_is_injection_safe(shop: ShopTask) -> None:
    index = shop.site.index
    for product in shop.site.products[:: NUM_PRODUCTS // 40]:
        hits = index.search(product.title)
        assert shop.site.products[hits[0]].title == product.title or product.title in {
            shop.site.products[i].title for i in hits[:3]
        }
    hits = index.search("waterproof leather boots")
    top = [shop.site.products[i] for i in hits[:10]]
    assert all(p.ptype == "boots" for p in top)
    assert index.search("shirts") == index.search("shirt")  # Porter stemming
    for hostile in ['"; DROP TABLE products; --', "NEAR(a b) * ^x", "title:foo OR", "' OR 1=1", "\x00"]:
        assert isinstance(index.search(hostile), tuple)
    assert index.search("") == () and index.search("the and of") == ()
    assert query_terms("I need RED t-shirts, under 30 dollars") == ["red", "t", "shirts", "30"]
    assert index.search("red shirt") == SearchIndex(shop.site.products).search("red shirt")  # deterministic


def test_candidates_come_from_the_instruction_and_need_a_search_box() -> None:
    env = gym.make("rlft/WebShop-v0").unwrapped
    obs, _ = env.reset(seed=0)
    searches = [c for c in obs["admissible_commands"] if c.startswith("search[")]
    assert searches == [f"search[{q}]" for q in search_phrases(obs["instruction"])]
    env.step(env.expert_action())
    env.step(env.expert_action())  # product page: no search box, no search candidates
    assert not [c for c in env.observation()["admissible_commands"] if c.startswith("search[")]


@pytest.mark.parametrize("split", SPLITS)
def test_expert_solves_every_split(split: str) -> None:
    env = gym.make("rlft/WebShop-v0", split=split).unwrapped
    rewards = []
    for seed in range(10):
        env.reset(seed=seed)
        total = 0.0
        while True:
            _, reward, terminated, truncated, info = env.step(env.expert_action())
            total += reward
            if terminated or truncated:
                break
        rewards.append(total)
        assert info["success"], (split, seed, info)
    assert np.mean(rewards) == 1.0


def test_expert_acts_on_what_the_listing_shows_and_goes_back_for_missing_options() -> None:
    """Every result the expert opens looks right from its listing; one lacking an asked option is left."""
    from urllib.parse import urlsplit

    env = gym.make("rlft/WebShop-v0").unwrapped
    went_back = 0
    for seed in range(40):
        env.reset(seed=seed)
        goal = env._episode.goal
        opened: list[str] = []
        while True:
            page = env.backend.page()
            action = env.expert_action()
            if urlsplit(page.url).path == "/search" and action.startswith("click["):
                target = next(e for e in page.elements if str(e.id) == action[6:-1])
                sku = urlsplit(target.attrs["href"]).path.removeprefix("/product/")
                product = env.task.site.product(sku)
                assert listing_matches(goal, product), (seed, target.name)
                assert sku not in opened, "the expert re-opened a result it had left"
                opened.append(sku)
            if action == "back":
                assert urlsplit(page.url).path.startswith("/product/")
                product = env.task.site.product(urlsplit(page.url).path.removeprefix("/product/"))
                assert listing_matches(goal, product) and not satisfies(goal, product)
                went_back += 1
            _, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                break
        assert info["success"], seed
    assert went_back > 0, "no goal in 40 had a look-alike result without the asked options"


def test_small_catalogue_for_quick_experiments() -> None:
    env = gym.make("rlft/WebShop-v0", num_products=200).unwrapped
    assert env.task.num_goals("train") == 160 * GOALS_PER_PRODUCT
    env.reset(seed=0)
    for _ in range(30):
        _, _, terminated, _, info = env.step(env.expert_action())
        if terminated:
            break
    assert info["success"]
