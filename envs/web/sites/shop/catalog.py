"""The shop's product catalogue, generated from a seed.

Each category has product types, materials, styles, features and option dimensions (colour, size,
scent, ...). A product draws one type, one material, one style, two or three features, a few values of
each option dimension, a brand, a price from its type's range and a rating; its title and description
are written from those. Generation draws all randomness from one ``numpy`` generator seeded with the
content seed in bulk, so the same seed gives the same catalogue in every process, in about 0.1 s.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

NUM_PRODUCTS = 5000

_COLORS = (
    "black",
    "white",
    "red",
    "blue",
    "green",
    "gray",
    "navy",
    "beige",
    "pink",
    "brown",
    "yellow",
    "purple",
)
_CLOTHING_SIZES = ("xs", "s", "m", "l", "xl", "xxl")
_SHOE_SIZES = ("6", "7", "8", "9", "10", "11", "12")
_SML = ("small", "medium", "large")


@dataclass(frozen=True)
class Category:
    """The vocabulary one category's products are drawn from."""

    name: str
    types: tuple[tuple[str, float, float], ...]
    """``(product type, lowest price, highest price)``."""
    materials: tuple[str, ...]
    styles: tuple[str, ...]
    features: tuple[str, ...]
    options: tuple[tuple[str, tuple[str, ...]], ...]
    """``(dimension, possible values)``; each product offers a subset of each."""


CATEGORIES: tuple[Category, ...] = (
    Category(
        "clothing",
        (
            ("t-shirt", 8, 35),
            ("hoodie", 20, 70),
            ("jeans", 25, 90),
            ("dress", 20, 120),
            ("jacket", 35, 180),
            ("sweater", 20, 90),
            ("shorts", 10, 45),
            ("polo shirt", 12, 50),
        ),
        ("cotton", "polyester", "wool", "linen", "fleece", "denim", "bamboo fiber"),
        ("casual", "classic", "slim fit", "oversized", "vintage", "athletic"),
        (
            "machine washable",
            "quick drying",
            "wrinkle free",
            "moisture wicking",
            "breathable",
            "stretchy",
            "hand wash only",
            "tagless",
        ),
        (("color", _COLORS), ("size", _CLOTHING_SIZES)),
    ),
    Category(
        "shoes",
        (
            ("running shoes", 30, 160),
            ("sneakers", 25, 120),
            ("boots", 40, 220),
            ("sandals", 12, 60),
            ("loafers", 30, 140),
            ("slippers", 10, 45),
        ),
        ("leather", "mesh", "suede", "canvas", "rubber", "knit"),
        ("casual", "classic", "sporty", "minimalist", "vintage"),
        ("non slip", "waterproof", "lightweight", "arch support", "memory foam", "slip on", "wide fit"),
        (("color", _COLORS), ("size", _SHOE_SIZES)),
    ),
    Category(
        "kitchen",
        (
            ("frying pan", 15, 90),
            ("knife set", 20, 150),
            ("cutting board", 8, 45),
            ("mixing bowl", 8, 40),
            ("coffee mug", 6, 25),
            ("food storage container", 10, 45),
            ("saucepan", 18, 80),
        ),
        ("stainless steel", "cast iron", "bamboo", "ceramic", "glass", "silicone"),
        ("modern", "classic", "rustic", "minimalist", "professional"),
        (
            "dishwasher safe",
            "non stick",
            "bpa free",
            "heat resistant",
            "oven safe",
            "stackable",
            "induction ready",
        ),
        (("color", ("black", "white", "red", "gray", "green", "blue")), ("size", _SML)),
    ),
    Category(
        "furniture",
        (
            ("office chair", 60, 350),
            ("bookshelf", 40, 260),
            ("coffee table", 50, 300),
            ("desk", 70, 400),
            ("bar stool", 30, 150),
            ("nightstand", 35, 180),
            ("shoe rack", 18, 90),
        ),
        ("oak wood", "walnut wood", "metal", "pine wood", "rattan", "engineered wood", "glass"),
        ("modern", "mid century", "industrial", "farmhouse", "scandinavian", "minimalist"),
        (
            "easy assembly",
            "adjustable height",
            "space saving",
            "storage drawers",
            "foldable",
            "scratch resistant",
        ),
        (("color", ("black", "white", "brown", "gray", "natural", "walnut")),),
    ),
    Category(
        "electronics",
        (
            ("wireless headphones", 20, 300),
            ("bluetooth speaker", 18, 200),
            ("phone charger", 8, 45),
            ("usb cable", 5, 25),
            ("keyboard", 15, 160),
            ("computer mouse", 8, 90),
            ("power bank", 15, 80),
        ),
        ("aluminum", "plastic", "silicone", "braided nylon", "fabric"),
        ("compact", "gaming", "portable", "ergonomic", "premium"),
        (
            "noise cancelling",
            "fast charging",
            "rechargeable",
            "water resistant",
            "long battery life",
            "bluetooth 5.0",
            "usb c",
        ),
        (
            ("color", ("black", "white", "silver", "blue", "red", "gray")),
            ("pack", ("1 pack", "2 pack", "3 pack")),
        ),
    ),
    Category(
        "beauty",
        (
            ("shampoo", 6, 40),
            ("face cream", 10, 80),
            ("body lotion", 6, 35),
            ("sunscreen", 8, 35),
            ("lip balm", 3, 15),
            ("hair oil", 8, 40),
            ("face serum", 12, 90),
        ),
        (
            "aloe vera",
            "coconut oil",
            "shea butter",
            "vitamin c",
            "argan oil",
            "tea tree oil",
            "hyaluronic acid",
        ),
        ("natural", "organic", "sensitive skin", "daily", "travel"),
        (
            "paraben free",
            "cruelty free",
            "fragrance free",
            "vegan",
            "hypoallergenic",
            "sulfate free",
            "dermatologist tested",
        ),
        (
            ("scent", ("unscented", "lavender", "citrus", "vanilla", "rose", "mint")),
            ("size", ("1 oz", "2 oz", "4 oz", "8 oz", "16 oz")),
        ),
    ),
    Category(
        "grocery",
        (
            ("coffee beans", 8, 35),
            ("green tea", 4, 25),
            ("granola", 4, 15),
            ("dark chocolate", 3, 18),
            ("peanut butter", 4, 16),
            ("protein bar", 10, 40),
            ("olive oil", 8, 40),
        ),
        ("arabica", "matcha", "oats", "cocoa", "roasted peanuts", "whey", "almonds"),
        ("gourmet", "single origin", "everyday", "family size", "artisan"),
        ("gluten free", "organic", "sugar free", "non gmo", "keto friendly", "low sodium", "kosher"),
        (
            ("flavor", ("original", "vanilla", "honey", "chocolate", "caramel", "sea salt")),
            ("size", ("8 ounce", "12 ounce", "16 ounce", "pack of 2", "pack of 6")),
        ),
    ),
    Category(
        "toys",
        (
            ("building blocks", 10, 80),
            ("jigsaw puzzle", 8, 35),
            ("plush toy", 8, 40),
            ("toy car", 6, 45),
            ("board game", 12, 60),
            ("doll house", 30, 150),
            ("kite", 8, 35),
        ),
        ("wood", "plastic", "plush fabric", "cardboard", "die cast metal", "nylon"),
        ("educational", "classic", "colorful", "creative", "montessori"),
        ("non toxic", "battery free", "easy to clean", "travel friendly", "stem learning", "award winning"),
        (
            ("color", ("red", "blue", "green", "yellow", "pink", "multicolor")),
            ("age", ("ages 3 and up", "ages 5 and up", "ages 8 and up", "ages 12 and up")),
        ),
    ),
    Category(
        "sports",
        (
            ("yoga mat", 12, 70),
            ("dumbbell set", 25, 200),
            ("resistance bands", 8, 35),
            ("jump rope", 5, 25),
            ("water bottle", 8, 40),
            ("foam roller", 10, 45),
            ("gym bag", 15, 70),
        ),
        ("tpe", "natural rubber", "neoprene", "stainless steel", "foam", "nylon", "cork"),
        ("professional", "compact", "heavy duty", "beginner", "travel"),
        (
            "non slip",
            "sweat resistant",
            "eco friendly",
            "lightweight",
            "insulated",
            "odor resistant",
            "carrying strap",
        ),
        (
            ("color", ("black", "purple", "blue", "green", "pink", "gray", "orange")),
            ("size", ("small", "standard", "large", "extra large")),
        ),
    ),
    Category(
        "pet supplies",
        (
            ("dog bed", 20, 120),
            ("cat toy", 4, 20),
            ("dog leash", 8, 35),
            ("pet bowl", 6, 30),
            ("cat litter box", 18, 90),
            ("dog harness", 12, 45),
            ("pet brush", 6, 25),
        ),
        ("memory foam", "nylon", "stainless steel", "natural rubber", "plush fabric", "bamboo"),
        ("durable", "orthopedic", "interactive", "reflective", "calming"),
        ("machine washable", "chew resistant", "easy to clean", "non slip", "adjustable", "waterproof"),
        (
            ("color", ("black", "gray", "brown", "blue", "pink", "red")),
            ("size", ("small", "medium", "large", "x-large")),
        ),
    ),
    Category(
        "home decor",
        (
            ("throw pillow", 8, 45),
            ("area rug", 30, 300),
            ("blackout curtains", 15, 80),
            ("wall clock", 12, 70),
            ("scented candle", 6, 35),
            ("table lamp", 18, 120),
            ("picture frame", 6, 40),
        ),
        ("cotton", "velvet", "jute", "linen", "soy wax", "ceramic", "metal"),
        ("bohemian", "modern", "farmhouse", "mid century", "coastal", "minimalist"),
        (
            "handmade",
            "fade resistant",
            "easy to clean",
            "energy efficient",
            "noise reducing",
            "hypoallergenic",
        ),
        (
            ("color", ("white", "beige", "gray", "navy", "green", "mustard", "black")),
            ("size", ("small", "medium", "large")),
        ),
    ),
    Category(
        "bags",
        (
            ("backpack", 20, 130),
            ("tote bag", 12, 80),
            ("wallet", 10, 90),
            ("duffel bag", 25, 140),
            ("laptop sleeve", 10, 45),
            ("crossbody bag", 15, 110),
            ("travel organizer", 8, 35),
        ),
        ("leather", "canvas", "nylon", "polyester", "vegan leather", "recycled plastic"),
        ("classic", "minimalist", "vintage", "business", "casual"),
        (
            "water resistant",
            "rfid blocking",
            "anti theft",
            "lightweight",
            "multiple pockets",
            "padded straps",
        ),
        (("color", ("black", "brown", "navy", "gray", "olive", "tan", "red")),),
    ),
    Category(
        "outdoor",
        (
            ("camping tent", 50, 400),
            ("sleeping bag", 30, 200),
            ("camping chair", 20, 90),
            ("hiking poles", 20, 110),
            ("camping lantern", 10, 50),
            ("hammock", 20, 90),
            ("cooler", 30, 250),
        ),
        ("ripstop nylon", "aluminum", "polyester", "carbon fiber", "steel", "down"),
        ("ultralight", "heavy duty", "family", "compact", "backpacking"),
        ("waterproof", "easy setup", "packable", "uv protection", "rechargeable", "windproof"),
        (
            ("color", ("green", "orange", "blue", "gray", "black", "red")),
            ("capacity", ("1 person", "2 person", "4 person", "6 person")),
        ),
    ),
)
"""The 13 categories."""

_BRAND_HEADS = (
    "nor",
    "vel",
    "tru",
    "bri",
    "kal",
    "zen",
    "ar",
    "mo",
    "lux",
    "ori",
    "sol",
    "fen",
    "ca",
    "du",
    "pi",
)
_BRAND_TAILS = ("dex", "ora", "vix", "wood", "line", "ly", "mark", "ton", "va", "co", "nest", "form", "ari")
BRANDS: tuple[str, ...] = tuple(f"{h}{t}".capitalize() for h in _BRAND_HEADS for t in _BRAND_TAILS)

_SENTENCES = (
    "Made from {material} for everyday use.",
    "This {style} {ptype} is {feature0} and {feature1}.",
    "Designed by {brand} with attention to detail.",
    "Customers praise its {feature0} design.",
    "A {style} choice that fits any routine.",
    "Every order ships within two business days.",
    "Backed by a one year {brand} warranty.",
    "The {material} build keeps it durable for years.",
)


@dataclass(frozen=True)
class Product:
    """One product of the catalogue."""

    sku: str
    category: str
    ptype: str
    brand: str
    material: str
    style: str
    features: tuple[str, ...]
    options: tuple[tuple[str, tuple[str, ...]], ...]
    """``(dimension, offered values)`` in display order."""
    price: float
    rating: float
    reviews: int
    title: str
    description: str

    @property
    def attributes(self) -> tuple[str, ...]:
        """Every attribute phrase the product has: material, style and features."""
        return (self.material, self.style, *self.features)

    def option_values(self, dimension: str) -> tuple[str, ...]:
        """Return the values offered for ``dimension`` (empty when the product has no such option)."""
        for name, values in self.options:
            if name == dimension:
                return values
        return ()


def _pick(values: tuple[str, ...], u: float) -> str:
    return values[min(int(u * len(values)), len(values) - 1)]


def _subset(values: tuple[str, ...], draws: np.ndarray, count: int) -> tuple[str, ...]:
    """``count`` distinct values, chosen by ranking ``draws`` (one uniform per value), in vocabulary order."""
    chosen = np.argsort(draws[: len(values)], kind="stable")[:count]
    return tuple(values[i] for i in sorted(chosen.tolist()))


def _make_product(index: int, u: np.ndarray, perm: np.ndarray) -> Product:
    category = CATEGORIES[index % len(CATEGORIES)]
    ptype, low, high = category.types[min(int(u[0] * len(category.types)), len(category.types) - 1)]
    material = _pick(category.materials, u[1])
    style = _pick(category.styles, u[2])
    n_features = 2 + int(u[3] > 0.5)
    features = _subset(category.features, perm[0], n_features)
    options = []
    for d, (dimension, values) in enumerate(category.options):
        count = min(len(values), 2 + int(u[4 + d] * (len(values) - 1)))
        options.append((dimension, _subset(values, perm[1 + d], count)))
    price = round(low + (high - low) * float(u[6]) ** 1.5, 0) - 0.01
    price = max(price, 1.99)
    rating = round(3.0 + 2.0 * float(u[7]), 1)
    reviews = int(5 + 2000 * float(u[8]) ** 3)
    brand = _pick(BRANDS, u[9])
    title = f"{brand} {style} {material} {ptype}, {', '.join(features)}"
    fields = {
        "material": material,
        "style": style,
        "ptype": ptype,
        "brand": brand,
        "feature0": features[0],
        "feature1": features[1],
    }
    order = np.argsort(perm[3][: len(_SENTENCES)], kind="stable")[:4]
    description = " ".join(_SENTENCES[i].format(**fields) for i in order.tolist())
    return Product(
        sku=f"SKU{index:05d}",
        category=category.name,
        ptype=ptype,
        brand=brand,
        material=material,
        style=style,
        features=features,
        options=tuple(options),
        price=float(price),
        rating=rating,
        reviews=reviews,
        title=title,
        description=description,
    )


@lru_cache(maxsize=4)
def build_catalog(content_seed: int, num_products: int = NUM_PRODUCTS) -> tuple[Product, ...]:
    """Build the catalogue for ``content_seed`` (cached per process; products are immutable)."""
    rng = np.random.default_rng([content_seed, 0x5409])
    uniforms = rng.random((num_products, 12))
    perms = rng.random((num_products, 4, 16))
    return tuple(_make_product(i, uniforms[i], perms[i]) for i in range(num_products))
