"""Word lists the form families draw their randomised content from (names, places, categories)."""

from __future__ import annotations

import numpy as np
from rlft.envs.web.tasks.forms.base import pick

FIRST_NAMES: tuple[str, ...] = (
    "Ada", "Aiko", "Alan", "Amara", "Ana", "Anton", "Aria", "Bea", "Bruno", "Carla", "Chen", "Dara", "Diego",
    "Elif", "Elena", "Emil", "Farah", "Felix", "Gita", "Hana", "Hugo", "Ines", "Ivan", "Jada", "Jonas",
    "Kai", "Kofi", "Lara", "Leo", "Lina", "Luca", "Maya", "Mateo", "Mina", "Nadia", "Nico", "Noor", "Omar",
    "Oskar", "Paula", "Priya", "Quinn", "Rafael", "Rosa", "Sami", "Sara", "Tariq", "Tess", "Uma", "Vera",
    "Wade", "Xenia", "Yara", "Yusuf", "Zoe", "Zane",
)  # fmt: skip
LAST_NAMES: tuple[str, ...] = (
    "Abe", "Alvarez", "Baker", "Bianchi", "Costa", "Dube", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito",
    "Jansen", "Kowalski", "Larsen", "Lopez", "Mensah", "Moreau", "Nakamura", "Novak", "Okafor", "Olsen",
    "Patel", "Quispe", "Rossi", "Sato", "Schmidt", "Silva", "Tanaka", "Usman", "Varga", "Weber", "Wong",
    "Yilmaz", "Zhou",
)  # fmt: skip
CITIES: tuple[str, ...] = (
    "Lisbon", "Oslo", "Lagos", "Lima", "Osaka", "Quito", "Porto", "Tunis", "Dakar", "Hanoi", "Perth",
    "Bergen", "Leeds", "Lyon", "Turin", "Graz", "Gdansk", "Malmo", "Austin", "Denver", "Halifax", "Cusco",
)  # fmt: skip
COUNTRIES: tuple[str, ...] = (
    "Argentina", "Australia", "Austria", "Belgium", "Brazil", "Canada", "Chile", "Colombia", "Denmark",
    "Egypt", "Finland", "France", "Germany", "Ghana", "Greece", "India", "Ireland", "Italy", "Japan",
    "Kenya", "Mexico", "Morocco", "Nepal", "Norway", "Peru", "Poland", "Portugal", "Senegal", "Spain",
    "Sweden", "Tunisia", "Turkey", "Uruguay", "Vietnam",
)  # fmt: skip
STREETS: tuple[str, ...] = (
    "Oak Street", "Maple Avenue", "Harbour Road", "Mill Lane", "Station Road", "Cedar Court", "Elm Row",
    "River Walk", "Park Lane", "Hill Street", "Garden Way", "Bridge Street", "Quarry Road", "Willow Drive",
)  # fmt: skip
DOMAINS: tuple[str, ...] = ("mail.test", "post.test", "inbox.test", "example.org", "corp.test")
WORDS: tuple[str, ...] = (
    "amber", "basil", "cobalt", "delta", "ember", "fjord", "garnet", "harbor", "indigo", "juniper", "kelp",
    "lumen", "marble", "nectar", "onyx", "pepper", "quartz", "raven", "saffron", "timber", "umber", "velvet",
    "willow", "xenon", "yonder", "zephyr", "atlas", "breeze", "cinder", "dune", "echo", "flint", "grove",
)  # fmt: skip

CATEGORIES: dict[str, tuple[str, ...]] = {
    "fruits": ("apple", "banana", "cherry", "mango", "papaya", "plum", "kiwi", "lime", "pear", "fig"),
    "animals": ("otter", "zebra", "falcon", "lynx", "badger", "heron", "gecko", "moose", "koala", "panda"),
    "colours": ("crimson", "teal", "violet", "ochre", "magenta", "navy", "olive", "coral", "ivory", "khaki"),
    "vehicles": ("tram", "canoe", "scooter", "glider", "ferry", "tractor", "sledge", "rickshaw", "yacht"),
    "instruments": ("cello", "banjo", "oboe", "sitar", "tuba", "harp", "flute", "drum", "lute", "ukulele"),
    "metals": ("copper", "zinc", "nickel", "cobalt", "silver", "tin", "iron", "lead", "gold", "titanium"),
}
"""Words grouped by what they describe (checkbox and tab families ask for one category)."""


def person(rng: np.random.Generator) -> tuple[str, str]:
    """Return a random ``(first, last)`` name."""
    return pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES)


def email_of(first: str, last: str, rng: np.random.Generator) -> str:
    """Return a plausible e-mail address for a person."""
    return f"{first.lower()}.{last.lower()}@{pick(rng, DOMAINS)}"


def digits(rng: np.random.Generator, n: int) -> str:
    """``n`` random decimal digits (the first one non-zero)."""
    first = str(int(rng.integers(1, 10)))
    return first + "".join(str(int(d)) for d in rng.integers(0, 10, size=n - 1))


def token(rng: np.random.Generator, n: int, alphabet: str = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789") -> str:
    """Return a random code of ``n`` characters from ``alphabet`` (ambiguous characters left out)."""
    return "".join(alphabet[int(i)] for i in rng.integers(0, len(alphabet), size=n))
