"""Single- and two-hop questions over the knowledge base, with fixed train / validation / test splits.

A question follows a *path* of relations from a subject entity: ``("born_in",)`` asks where a person
was born (single-hop); ``("founder", "born_in")`` asks where the founder of an organisation was born
(two-hop: read the organisation's article, follow the link to the founder, read the founder's). The
answer is the text of the last fact, so it is always stated in the infobox of the *evidence* article:
the article of the entity the last fact is about.

Splits are assigned per evidence entity (80 / 10 / 10 % of the entities, fixed by the content seed):
no train question is answered on an article that answers a test question, so a policy cannot pass
the test split by memorising training answers.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from rlft.envs.contract import SPLITS
from rlft.envs.web.sites.wiki_content import (
    ART_FORMS,
    ENTITY_RELATIONS,
    Entity,
    KnowledgeBase,
    knowledge_base,
)

SPLIT_FRACTIONS: tuple[float, float, float] = (0.8, 0.1, 0.1)
"""Share of evidence entities in train, validation and test."""


_KIND_PREFIXES = {
    "person": "person",
    "org": "organisation",
    "work": "work",
    "city": "city",
    "country": "country",
}

QUESTION_TEXTS: dict[str, str] = {
    # single-hop
    "person.born_in": "In which city was {name} born?",
    "person.birth_year": "In what year was {name} born?",
    "person.occupation": "What was the occupation of {name}?",
    "person.employer": "Which organisation did {name} work for?",
    "org.founder": "Who founded {name}?",
    "org.headquarters": "In which city is {name} headquartered?",
    "org.founded": "In what year was {name} founded?",
    "work.creator": "Who {verb} the {form} {name}?",
    "work.year": "In what year was the {form} {name} {made}?",
    "work.set_in": "In which city is the {form} {name} set?",
    "city.country": "In which country does the city of {name} lie?",
    "city.founded": "In what year was the city of {name} founded?",
    "country.capital": "What is the capital of {name}?",
    "country.established": "In what year was {name} established?",
    # two-hop
    "person.born_in.country": "In which country was {name} born?",
    "person.employer.founder": "Who founded the organisation that {name} worked for?",
    "person.employer.headquarters": "In which city was the employer of {name} headquartered?",
    "org.founder.born_in": "In which city was the founder of {name} born?",
    "org.founder.birth_year": "In what year was the founder of {name} born?",
    "org.headquarters.country": "In which country is {name} headquartered?",
    "work.creator.born_in": "In which city was the {creator} of the {form} {name} born?",
    "work.creator.birth_year": "In what year was the {creator} of the {form} {name} born?",
    "work.creator.employer": "Which organisation employed the {creator} of the {form} {name}?",
    "work.set_in.country": "In which country is the {form} {name} set?",
    "city.country.capital": "What is the capital of the country in which the city of {name} lies?",
}
"""Question patterns by key ``<subject kind>.<relation>[.<relation>]``. Work questions are also formatted
with the work's ``form``, its creator's title (``creator``: author, composer...), ``verb`` and ``made``."""


@dataclass(frozen=True)
class Template:
    """One question pattern: a subject kind, a relation path and the question text."""

    key: str
    kind: str
    path: tuple[str, ...]
    text: str

    @classmethod
    def from_key(cls, key: str, text: str) -> Template:
        """Build the template of a :data:`QUESTION_TEXTS` entry."""
        prefix, *path = key.split(".")
        return cls(key, _KIND_PREFIXES[prefix], tuple(path), text)


TEMPLATES: tuple[Template, ...] = tuple(Template.from_key(key, text) for key, text in QUESTION_TEXTS.items())


# Capitalised words that start questions and are not names.
_QUESTION_WORDS = frozenset(("in", "what", "which", "who", "whom", "where", "when", "how"))
_NAME_CONNECTORS = frozenset(("of", "the"))
_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")


def question_phrases(question: str) -> list[str]:
    """Return the proper names a reader sees in ``question``: runs of capitalised words.

    ``of`` / ``the`` join capitalised words inside a run (``University of Skandos``); the question's
    first word is dropped when it is a question word. This is what the search candidates are built
    from, without access to the goal.
    """
    words = _WORD.findall(question)
    phrases: list[str] = []
    run: list[str] = []
    for i, word in enumerate(words):
        capital = word[0].isupper() and not (i == 0 and word.lower() in _QUESTION_WORDS)
        inner = word.lower() in _NAME_CONNECTORS and run and i + 1 < len(words) and words[i + 1][0].isupper()
        if capital or inner:
            run.append(word)
            continue
        if run:
            phrases.append(" ".join(run))
        run = []
    if run:
        phrases.append(" ".join(run))
    return list(dict.fromkeys(phrases))


def _question_text(template: Template, subject: Entity) -> str:
    if subject.kind != "work":
        return template.text.format(name=subject.name)
    form = str(subject.facts["form"])
    art = ART_FORMS[form]
    return template.text.format(
        name=subject.name, form=form, creator=art.creator.lower(), verb=art.verb, made=art.made.lower()
    )


def _walk(kb: KnowledgeBase, subject: Entity, path: tuple[str, ...]) -> list[Entity] | None:
    """Return the entities visited along ``path`` (subject first, excluding the final value), or None."""
    chain = [subject]
    for relation in path[:-1]:
        chain.append(kb.target(chain[-1], relation))
    last = path[-1]
    if last in ENTITY_RELATIONS:
        answer = kb.target(chain[-1], last)
        # A question whose answer is an entity already on the path is degenerate ("who founded the
        # organisation X worked for" when X founded it; "the capital of the country of its capital").
        if any(answer.index == e.index for e in chain):
            return None
    return chain


def _evidence_split(kb: KnowledgeBase) -> np.ndarray:
    """Return the split (0, 1, 2) of every entity's article, fixed by the content seed."""
    rng = np.random.default_rng(np.random.SeedSequence([kb.content_seed, 0x5B1]))
    order = rng.permutation(len(kb.entities))
    bounds = np.cumsum(np.array(SPLIT_FRACTIONS) * len(kb.entities)).round().astype(int)
    split = np.zeros(len(kb.entities), dtype=np.int64)
    split[order[bounds[0] : bounds[1]]] = 1
    split[order[bounds[1] :]] = 2
    return split


def build_questions(kb: KnowledgeBase) -> dict[str, list[dict[str, Any]]]:
    """Every question the knowledge base supports, by split, as JSON-able goal dicts.

    Each goal holds ``id`` (``template:subject-slug``), ``question``, ``answer``, ``hops``,
    ``template``, ``chain`` (article slugs to read, subject first; the last is the evidence article),
    ``chain_names`` and ``evidence`` (slug of the article that states the answer).
    """
    entity_split = _evidence_split(kb)
    out: dict[str, list[dict[str, Any]]] = {split: [] for split in SPLITS}
    for template in TEMPLATES:
        for index in kb.by_kind[template.kind]:
            subject = kb.entities[index]
            chain = _walk(kb, subject, template.path)
            if chain is None:
                continue
            evidence = chain[-1]
            out[SPLITS[int(entity_split[evidence.index])]].append(
                {
                    "id": f"{template.key}:{subject.slug}",
                    "question": _question_text(template, subject),
                    "answer": kb.value_text(evidence, template.path[-1]),
                    "hops": len(template.path),
                    "template": template.key,
                    "chain": [e.slug for e in chain],
                    "chain_names": [e.name for e in chain],
                    "evidence": evidence.slug,
                }
            )
    return out


@functools.lru_cache(maxsize=4)
def questions(content_seed: int) -> dict[str, list[dict[str, Any]]]:
    """:func:`build_questions` for the default knowledge base of ``content_seed``, cached per process."""
    return build_questions(knowledge_base(content_seed))
