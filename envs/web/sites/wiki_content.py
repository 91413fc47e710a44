"""The encyclopedia's knowledge base: fictional entities, their typed facts, and their articles.

Everything is generated from one ``content_seed`` and cached per process (:func:`knowledge_base`), so
constructing many environments costs one generation. Five kinds of entity are linked by typed facts:

============  ===============================================================================
kind          facts (``relation``: value)
============  ===============================================================================
country       ``capital``: city, ``established``: year, ``language``, ``currency``
city          ``country``: country, ``founded``: year, ``population``, ``river``
person        ``born_in``: city, ``birth_year``, ``death_year``, ``occupation``, ``employer``: org
organisation  ``founder``: person, ``headquarters``: city, ``founded``: year, ``type``, ``sector``
work          ``creator``: person, ``year``, ``set_in``: city, ``form``
============  ===============================================================================

Facts are mutually consistent (a founder is born 22-60 years before the founding, a capital lies in
its country, a work's creator practises its art form). Each entity has one :class:`Article`: an infobox
whose rows state every fact as plain, quotable text, and prose that repeats the facts with
cross-links to the related articles (including reverse mentions: a city lists people born there).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from rlft.envs.web.sites.wiki_names import NameMaker

KINDS: tuple[str, ...] = ("country", "city", "person", "organisation", "work")
COUNTS: dict[str, int] = {"country": 30, "city": 350, "person": 850, "organisation": 370, "work": 500}
"""Entities per kind (2,100 articles)."""

ENTITY_RELATIONS: dict[str, str] = {
    "capital": "city",
    "country": "country",
    "born_in": "city",
    "employer": "organisation",
    "founder": "person",
    "headquarters": "city",
    "creator": "person",
    "set_in": "city",
}
"""Relations whose value is another entity (relation -> kind of the target)."""

INFOBOX_ROWS: dict[str, tuple[tuple[str, str], ...]] = {
    "country": (("Capital", "capital"), ("Established", "established"), ("Official language", "language"),
                ("Currency", "currency")),
    "city": (("Country", "country"), ("Founded", "founded"), ("Population", "population"),
             ("River", "river")),
    "person": (("Born", "birth_year"), ("Birthplace", "born_in"), ("Died", "death_year"),
               ("Occupation", "occupation"), ("Employer", "employer")),
    "organisation": (("Type", "type"), ("Founded", "founded"), ("Founder", "founder"),
                     ("Headquarters", "headquarters"), ("Sector", "sector")),
    "work": (("Form", "form"), ("{creator}", "creator"), ("{made}", "year"), ("Setting", "set_in")),
}  # fmt: skip
"""Infobox ``(label, relation)`` rows of each kind; work labels name the creator and date by art form."""


class ArtForm(NamedTuple):
    """How the articles and questions speak of one art form."""

    occupation: str
    """The occupation of its creators (only they create works of this form)."""
    creator: str
    """Infobox label of the creator (``Author``, ``Composer``)."""
    verb: str
    """What the creator did (``wrote``, ``composed``)."""
    made: str
    """Infobox label of the year (``Published``, ``Premiered``)."""


ART_FORMS: dict[str, ArtForm] = {
    "novel": ArtForm("novelist", "Author", "wrote", "Published"),
    "play": ArtForm("playwright", "Playwright", "wrote", "First staged"),
    "opera": ArtForm("composer", "Composer", "composed", "Premiered"),
    "film": ArtForm("film director", "Director", "directed", "Released"),
    "epic poem": ArtForm("poet", "Poet", "wrote", "Published"),
}
_OTHER_OCCUPATIONS = (
    "architect", "engineer", "merchant", "physician", "botanist", "cartographer", "astronomer", "judge",
    "shipwright", "mathematician", "historian", "banker",
)  # fmt: skip
# Organisation types: (type, name pattern, sectors it works in).
_ORG_TYPES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("guild", "{} Guild", ("glassmaking", "textiles", "salt trading")),
    ("company", "{} Company", ("mining", "textiles", "shipbuilding")),
    ("university", "University of {}", ("education", "medicine", "astronomy")),
    ("bank", "{} Bank", ("banking", "insurance")),
    ("observatory", "{} Observatory", ("astronomy", "cartography")),
    ("publishing house", "{} Press", ("printing", "bookselling")),
    ("shipyard", "{} Shipyards", ("shipbuilding", "naval repair")),
    ("theatre company", "{} Players", ("the performing arts", "opera")),
    ("foundation", "{} Foundation", ("medicine", "education", "the arts")),
    ("trading house", "House of {}", ("salt trading", "spices", "timber")),
)
_ADJECTIVES = (
    "Silent", "Amber", "Hollow", "Crimson", "Last", "Winter", "Distant", "Iron", "Paper", "Glass", "Salt",
    "Quiet", "Burning", "Northern", "Broken", "Golden",
)  # fmt: skip
_NOUNS = (
    "Orchard", "Gate", "Harbour", "Lantern", "Archive", "Bridge", "Tide", "Garden", "Mirror", "Tower",
    "Voyage", "Crown", "Choir", "Harvest", "Falcon", "Map",
)  # fmt: skip
_CURRENCIES = ("drahm", "crown", "mark", "solen", "talar", "florin", "rial", "kesh")
_PLOTS = (
    "a {} who returns home after a long exile",
    "a {} caught between two rival families",
    "a {} searching for a lost brother",
    "the last summer of a {} before a great flood",
    "a {} who inherits a ruined estate",
    "a {} and a stranger who meet on a night train",
)
_SLUG_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")


@dataclass(frozen=True)
class Link:
    """A cross-link inside article text."""

    slug: str
    text: str


Segment = str | Link
Sentence = tuple[Segment, ...]


_Parts = tuple[str, list[list[Sentence]]]
"""What an article builder returns: the category and the paragraphs."""


@dataclass
class Entity:
    """One fictional entity and its facts."""

    index: int
    kind: str
    name: str
    slug: str
    facts: dict[str, int | str] = field(default_factory=dict)
    """Relation -> value. Entity-valued relations (:data:`ENTITY_RELATIONS`) hold the target's index."""


@dataclass(frozen=True)
class Article:
    """An entity's page: title, category, infobox and prose."""

    slug: str
    title: str
    kind: str
    category: str
    """Short description shown under the title and in search results (``Novel``, ``City in Tesk``)."""
    infobox: tuple[tuple[str, str], ...]
    """``(label, value)`` rows; values are plain text so that a row can be quoted verbatim."""
    paragraphs: tuple[tuple[Sentence, ...], ...]

    def plain_text(self) -> str:
        """Return the article's words without markup (what the search index stores)."""
        rows = " ".join(f"{label} {value}" for label, value in self.infobox)
        prose = " ".join(sentence_text(s) for p in self.paragraphs for s in p)
        return f"{self.category} {rows} {prose}"


def sentence_text(sentence: Sentence) -> str:
    """Return a sentence's text with links replaced by their link text."""
    return "".join(seg.text if isinstance(seg, Link) else seg for seg in sentence)


def slugify(name: str) -> str:
    """Return the URL path segment of a title (``Isela Dravik`` -> ``Isela_Dravik``)."""
    return _SLUG_UNSAFE.sub("", name.replace(" ", "_"))


def _coined_name(names: NameMaker, pattern: str) -> str:
    """``pattern`` with a freshly coined word in its ``{}``."""
    return pattern.format(names.coined())


class KnowledgeBase:
    """Entities, their facts and their articles, generated from ``content_seed``.

    Args:
        content_seed: seeds every name, fact and sentence.

    """

    def __init__(self, content_seed: int) -> None:
        self.content_seed = content_seed
        self.entities: list[Entity] = []
        self.by_kind: dict[str, list[int]] = {kind: [] for kind in KINDS}
        rng = np.random.default_rng(np.random.SeedSequence([content_seed, 0x3C1]))
        self._generate(rng)
        self.by_slug: dict[str, Entity] = {e.slug: e for e in self.entities}
        self.articles: dict[str, Article] = {e.slug: self._article(e, rng) for e in self.entities}

    # -- facts --------------------------------------------------------------------------------------
    def target(self, entity: Entity, relation: str) -> Entity:
        """Return the entity an entity-valued ``relation`` of ``entity`` points to."""
        return self.entities[int(entity.facts[relation])]

    def value_text(self, entity: Entity, relation: str) -> str:
        """Return the text of a fact's value: the target's name for entity-valued relations."""
        if relation in ENTITY_RELATIONS:
            return self.target(entity, relation).name
        value = entity.facts[relation]
        if relation == "population":
            return f"{int(value):,}"
        return str(value)

    def _new(self, kind: str, name: str) -> Entity:
        entity = Entity(len(self.entities), kind, name, slugify(name))
        self.entities.append(entity)
        self.by_kind[kind].append(entity.index)
        return entity

    # -- generation ---------------------------------------------------------------------------------
    def _generate(self, rng: np.random.Generator) -> None:
        names = NameMaker(rng)
        n = COUNTS

        def pick(seq: list[int]) -> int:
            return seq[int(rng.integers(len(seq)))]

        for _ in range(n["country"]):
            country = self._new("country", names.country())
            country.facts.update(
                established=int(rng.integers(900, 1880)),
                language=country.name.rstrip("aeiou") + names.pick(("ish", "ic", "ese", "an")),
                currency=names.pick(_CURRENCIES),
            )
        countries = self.by_kind["country"]
        for i in range(n["city"]):
            city = self._new("city", names.city())
            # The first cities become the capitals, so every country has one.
            country = self.entities[countries[i]] if i < len(countries) else self.entities[pick(countries)]
            city.facts.update(
                country=country.index,
                founded=int(rng.integers(600, 1900)),
                population=int(round(float(np.exp(rng.uniform(np.log(2_000), np.log(2_500_000)))), -2)),
                river="the " + names.coined(),
            )
            if i < len(countries):
                country.facts["capital"] = city.index
        cities = self.by_kind["city"]

        occupations = [art.occupation for art in ART_FORMS.values()] + list(_OTHER_OCCUPATIONS)
        for _ in range(n["person"]):
            person = self._new("person", names.person())
            birth = int(rng.integers(1600, 1925))
            person.facts.update(
                born_in=pick(cities),
                birth_year=birth,
                death_year=birth + int(rng.integers(38, 95)),
                occupation=occupations[int(rng.integers(len(occupations)))],
            )
        people = self.by_kind["person"]

        for _ in range(n["organisation"]):
            org_type, pattern, sectors = _ORG_TYPES[int(rng.integers(len(_ORG_TYPES)))]
            org = self._new("organisation", names.unique(functools.partial(_coined_name, names, pattern)))
            founder = self.entities[pick(people)]
            org.facts.update(
                founder=founder.index,
                headquarters=pick(cities),
                founded=int(founder.facts["birth_year"]) + int(rng.integers(22, 60)),
                type=org_type,
                sector=names.pick(sectors),
            )
        orgs = self.by_kind["organisation"]
        for index in people:
            person = self.entities[index]
            # Employers existed during the person's working life when possible.
            alive = [
                o
                for o in orgs
                if int(self.entities[o].facts["founded"]) <= int(person.facts["birth_year"]) + 40
            ]
            person.facts["employer"] = pick(alive or orgs)

        creators = {
            art.occupation: [p for p in people if self.entities[p].facts["occupation"] == art.occupation]
            for art in ART_FORMS.values()
        }
        for _ in range(n["work"]):
            form = list(ART_FORMS)[int(rng.integers(len(ART_FORMS)))]
            pool = creators[ART_FORMS[form].occupation] or people
            creator = self.entities[pick(pool)]
            work = self._new("work", names.unique(lambda: self._title(names, rng)))
            birth, death = int(creator.facts["birth_year"]), int(creator.facts["death_year"])
            work.facts.update(
                creator=creator.index,
                year=int(rng.integers(birth + 20, max(birth + 21, min(death, birth + 75)))),
                set_in=pick(cities),
                form=form,
            )

    @staticmethod
    def _title(names: NameMaker, rng: np.random.Generator) -> str:
        adjective, noun = names.pick(_ADJECTIVES), names.pick(_NOUNS)
        style = int(rng.integers(4))
        if style == 0:
            return f"The {adjective} {noun}"
        if style == 1:
            return f"The {noun} of {names.coined()}"
        if style == 2:
            return f"{adjective} {noun}s of {names.coined()}"
        return f"The {names.coined()} {noun}"

    # -- articles -----------------------------------------------------------------------------------
    def _link(self, index: int | str) -> Link:
        entity = self.entities[int(index)]
        return Link(entity.slug, entity.name)

    def _mentions(self, kind: str, relation: str, target: Entity, limit: int) -> list[Entity]:
        """Up to ``limit`` entities of ``kind`` whose ``relation`` points to ``target``."""
        found = [
            self.entities[i]
            for i in self._reverse.get((relation, target.index), [])
            if self.entities[i].kind == kind
        ]
        return found[:limit]

    @functools.cached_property
    def _reverse(self) -> dict[tuple[str, int], list[int]]:
        reverse: dict[tuple[str, int], list[int]] = {}
        for entity in self.entities:
            for relation, value in entity.facts.items():
                if relation in ENTITY_RELATIONS:
                    reverse.setdefault((relation, int(value)), []).append(entity.index)
        return reverse

    def _list_sentence(self, lead: str, entities: list[Entity]) -> Sentence:
        segs: list[Segment] = [lead]
        for i, other in enumerate(entities):
            if i:
                segs.append(" and " if i == len(entities) - 1 else ", ")
            segs.append(Link(other.slug, other.name))
        segs.append(".")
        return tuple(segs)

    def _article(self, e: Entity, rng: np.random.Generator) -> Article:
        category, paragraphs = getattr(self, f"_article_{e.kind}")(e, rng)
        words = {}
        if e.kind == "work":
            art = ART_FORMS[str(e.facts["form"])]
            words = {"creator": art.creator, "made": art.made}
        rows = tuple((label.format(**words), self.value_text(e, rel)) for label, rel in INFOBOX_ROWS[e.kind])
        return Article(e.slug, e.name, e.kind, category, rows, tuple(tuple(p) for p in paragraphs if p))

    def _article_country(self, e: Entity, rng: np.random.Generator) -> _Parts:
        f = e.facts
        capital = self._link(f["capital"])
        intro: list[Sentence] = [
            (e.name, " is a country whose capital is ", capital, "."),
            (f"It was established in {f['established']}.",),
            (f"Its official language is {f['language']} and its currency is the {f['currency']}.",),
        ]
        cities = self._mentions("city", "country", e, 8)
        more = [self._list_sentence(f"Major cities of {e.name} include ", cities)] if cities else []
        return "Country", [intro, more]

    def _article_city(self, e: Entity, rng: np.random.Generator) -> _Parts:
        f = e.facts
        country = self.target(e, "country")
        if int(rng.integers(2)):
            intro: list[Sentence] = [
                (
                    e.name,
                    " is a city in ",
                    Link(country.slug, country.name),
                    f" on the river {str(f['river'])[4:]}.",
                )
            ]
        else:
            intro = [
                (
                    e.name,
                    " is a city on the river ",
                    str(f["river"])[4:],
                    " in ",
                    Link(country.slug, country.name),
                    ".",
                )
            ]
        intro.append(
            (f"It was founded in {f['founded']} and has a population of {self.value_text(e, 'population')}.",)
        )
        if int(country.facts["capital"]) == e.index:
            intro.append((e.name, " is the capital of ", Link(country.slug, country.name), "."))
        more: list[Sentence] = []
        born = self._mentions("person", "born_in", e, 4)
        if born:
            more.append(self._list_sentence(f"Notable people born in {e.name} include ", born))
        based = self._mentions("organisation", "headquarters", e, 3)
        if based:
            more.append(self._list_sentence(f"Organisations based in {e.name} include ", based))
        return f"City in {country.name}", [intro, more]

    def _article_person(self, e: Entity, rng: np.random.Generator) -> _Parts:
        f = e.facts
        surname = e.name.split()[-1]
        city, org = self._link(f["born_in"]), self._link(f["employer"])
        occupation = str(f["occupation"])
        article = "an" if occupation[0] in "aeiou" else "a"
        if int(rng.integers(2)):
            intro: list[Sentence] = [
                (
                    f"{e.name} ({f['birth_year']}-{f['death_year']}) was {article} {occupation} from ",
                    city,
                    ".",
                )
            ]
        else:
            intro = [(f"{e.name} was {article} {occupation} born in ", city, f" in {f['birth_year']}.")]
        intro.append((f"For most of a long career {surname} worked for ", org, "."))
        intro.append((f"{surname} died in {f['death_year']}.",))
        more: list[Sentence] = []
        for founded in self._mentions("organisation", "founder", e, 3):
            more.append(
                (f"{e.name} founded ", Link(founded.slug, founded.name), f" in {founded.facts['founded']}.")
            )
        for work in self._mentions("work", "creator", e, 4):
            form, year = work.facts["form"], work.facts["year"]
            more.append((f"{e.name} is known for the {form} ", Link(work.slug, work.name), f" ({year})."))
        return occupation.capitalize(), [intro, more]

    def _article_organisation(self, e: Entity, rng: np.random.Generator) -> _Parts:
        f = e.facts
        founder, hq = self._link(f["founder"]), self._link(f["headquarters"])
        intro: list[Sentence] = [
            (f"{e.name} is a {f['type']} working in {f['sector']}, headquartered in ", hq, "."),
            (f"It was founded in {f['founded']} by ", founder, "."),
        ]
        staff = [p for p in self._mentions("person", "employer", e, 5) if p.index != int(f["founder"])][:4]
        more = [self._list_sentence("Notable employees have included ", staff)] if staff else []
        return str(f["type"]).capitalize(), [intro, more]

    def _article_work(self, e: Entity, rng: np.random.Generator) -> _Parts:
        f = e.facts
        creator, city = self._link(f["creator"]), self._link(f["set_in"])
        occupation = _OTHER_OCCUPATIONS[int(rng.integers(len(_OTHER_OCCUPATIONS)))]
        plot = _PLOTS[int(rng.integers(len(_PLOTS)))].format(occupation)
        intro: list[Sentence] = [
            (f"{e.name} is a {f['year']} {f['form']} by ", creator, "."),
            ("It is set in ", city, f" and follows {plot}."),
        ]
        return str(f["form"]).capitalize(), [intro]


@functools.lru_cache(maxsize=4)
def knowledge_base(content_seed: int) -> KnowledgeBase:
    """Return the knowledge base of ``content_seed``, generated once per process."""
    return KnowledgeBase(content_seed)
