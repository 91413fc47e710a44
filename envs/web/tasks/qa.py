"""Encyclopedia QA (``rlft/WebQA-v0``): browse a fictional encyclopedia and answer a question.

An episode asks one single- or two-hop question (:mod:`~rlft.envs.web.tasks.wiki_questions`) about the
articles of :class:`~rlft.envs.web.sites.wiki.WikiSite`; the agent searches, follows cross-links,
optionally quotes evidence with ``quote[...]`` and ends with ``answer[...]``.

**Reward** (on ``answer``): 1 for a normalised exact match with the gold answer, otherwise the token F1
as partial credit (:mod:`~rlft.envs.web.sites.wiki_scoring`); ``stop`` without an answer earns 0.
``info["success"]`` is the exact match. With ``require_quote=True`` (WebGPT-style grounding) credit and
success also require that the answer is *supported*: some quote the agent collected contains the
answer, is text of an article the agent visited, and comes from the article that states the answer's
fact or names the entity that fact is about.

**Candidates** offered among the admissible commands: ``search[...]`` for every proper name of the
question (runs of capitalised words), and on an article ``answer[...]`` for every infobox value and
linked name, and ``quote[...]`` for every infobox row and prose sentence. Any other well-formed
command is accepted too.

**Expert**: searches the question's subject, opens it, follows the link of each hop, quotes the
evidence row when ``require_quote`` and answers: 3 to 5 commands. It only acts on what the pages
show (it never jumps to a later article of the chain that happens to be listed in search results),
so its demonstrations can be imitated from observations.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import numpy as np
from rlft.envs.contract import SPLITS, check_split
from rlft.envs.web.commands import Answer, Click, Quote, Search, format_command
from rlft.envs.web.page import Page
from rlft.envs.web.sites.wiki import WikiSite, article_slug
from rlft.envs.web.sites.wiki_html import ARTICLE_PREFIX, article_url
from rlft.envs.web.sites.wiki_scoring import contains_phrase, exact_match, token_f1
from rlft.envs.web.task import Evaluation, Task, Trace, WebTask
from rlft.envs.web.tasks.wiki_questions import question_phrases, questions
from rlft.errors import check_bool, check_choice

HOPS: dict[str, tuple[int, ...]] = {"mixed": (1, 2), "single": (1,), "two": (2,)}
"""``hops=`` choices: which question depths an episode may ask."""

MAX_ANSWER_CANDIDATES = 20
MAX_QUOTE_CANDIDATES = 20
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\[])")


def quotable_passages(page: Page) -> list[str]:
    """Return the infobox rows and prose sentences of an article page, exactly as they appear in its text.

    The page's header (home link, search form) and title are skipped; everything below the ``# Title``
    line is split into sentences.
    """
    lines = page.text.split("\n")
    start = next((i + 1 for i, line in enumerate(lines) if line.startswith("# ")), len(lines))
    passages: list[str] = []
    for line in lines[start + 1 :]:  # the line after the title is the category
        passages += [part for part in _SENTENCE_END.split(line) if part.strip()]
    return list(dict.fromkeys(passages))


class QATask(WebTask[WikiSite]):
    """Question answering over the encyclopedia.

    Args:
        content_seed: seeds the articles, questions and splits (0: the standard encyclopedia).
        require_quote: credit needs a supporting quote (see the module docstring).
        hops: ``mixed`` (half single-hop, half two-hop questions), ``single`` or ``two``.

    Raises:
        ConfigError: for a negative seed, a non-boolean ``require_quote`` or an unknown ``hops``.
    """

    name = "qa"

    def __init__(self, content_seed: int = 0, require_quote: bool = False, hops: str = "mixed") -> None:
        require_quote = check_bool("require_quote", require_quote)
        super().__init__(WikiSite(content_seed))
        self.require_quote = require_quote
        self.hops = check_choice("hops", hops, HOPS)
        self._load()

    def _load(self) -> None:
        questions_by_split = questions(self.site.content_seed)
        self._pools: dict[str, tuple[list[dict[str, Any]], ...]] = {
            split: tuple([q for q in questions_by_split[split] if q["hops"] == h] for h in HOPS[self.hops])
            for split in SPLITS
        }

    def __getstate__(self) -> dict[str, Any]:
        # Questions are regenerated from the seed (cached per process) instead of being pickled.
        return {"site": self.site, "require_quote": self.require_quote, "hops": self.hops}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.site = state["site"]
        self.require_quote = state["require_quote"]
        self.hops = state["hops"]
        self._load()

    # -- goals -------------------------------------------------------------------------------------
    def reset(self, rng: np.random.Generator, split: str) -> Task:
        """Sample a question of ``split``: first its depth (uniformly among ``hops``), then the question."""
        pools = self._pools[check_split(split)]
        pool = pools[int(rng.integers(len(pools)))] if len(pools) > 1 else pools[0]
        # A deep copy: the question tables are cached per process and must never be mutated.
        goal = copy.deepcopy(pool[int(rng.integers(len(pool)))])
        return Task(instruction=goal["question"], start_url="/", goal=goal)

    def num_goals(self, split: str) -> int:
        """Questions in ``split`` at the configured depths."""
        return sum(len(pool) for pool in self._pools[check_split(split)])

    # -- scoring -----------------------------------------------------------------------------------
    def evaluate(self, task: Task, trace: Trace) -> Evaluation:
        """Score the answer (exact match, else token F1), gated by quote support when required."""
        goal = task.goal
        details: dict[str, Any] = {
            "question_id": goal["id"],
            "hops": goal["hops"],
            "answered": trace.answer is not None,
        }
        if trace.answer is None:
            return Evaluation(0.0, False, trace.stopped, details)
        em = exact_match(trace.answer, goal["answer"])
        f1 = 1.0 if em else token_f1(trace.answer, goal["answer"])
        supported = any(self.supports(goal, trace, url, text, trace.answer) for url, text in trace.quotes)
        grounded = supported or not self.require_quote
        details.update(exact_match=em, f1=f1, supported=supported)
        return Evaluation(f1 if grounded else 0.0, em and grounded, True, details)

    def supports(self, goal: dict[str, Any], trace: Trace, quote_url: str, quote: str, answer: str) -> bool:
        """Whether ``quote``, collected at ``quote_url``, supports ``answer`` to the question of ``goal``.

        The quote must come from an article the agent visited and be text of that article; it must
        contain the answer, and either come from the evidence article or name the evidence entity.
        """
        slug = article_slug(quote_url)
        if slug is None or slug not in self.site.kb.articles:
            return False
        if not any(article_slug(url) == slug for url in trace.visited):
            return False
        if not contains_phrase(quote, answer):
            return False
        if slug != goal["evidence"] and not contains_phrase(quote, goal["chain_names"][-1]):
            return False
        # Re-checked here (not only by the browser) so that a hand-made Trace cannot invent evidence.
        return contains_phrase(self.site.article_text(slug), quote)

    # -- helping agents ----------------------------------------------------------------------------
    def candidates(self, task: Task, page: Page) -> list[str]:
        """Offer searches for the question's names; on an article, answers (facts, links) and quotes."""
        commands = [format_command(Search(phrase)) for phrase in question_phrases(task.instruction)]
        slug = article_slug(page.url)
        if slug is None or slug not in self.site.kb.articles or page.status != 200:
            return commands
        values = [value for _, value in self.site.kb.articles[slug].infobox]
        links = [
            e.name
            for e in page.elements
            if e.role == "link" and e.attrs.get("href", "").startswith(ARTICLE_PREFIX)
        ]
        answers = list(dict.fromkeys(values + links))[:MAX_ANSWER_CANDIDATES]
        commands += [format_command(Answer(answer)) for answer in answers]
        commands += [
            format_command(Quote(passage)) for passage in quotable_passages(page)[:MAX_QUOTE_CANDIDATES]
        ]
        return commands

    def expert_action(self, task: Task, page: Page, trace: Trace) -> str:
        """Search the subject, follow the chain of links, quote when required, answer."""
        goal = task.goal
        chain: list[str] = goal["chain"]
        slug = article_slug(page.url) if page.status == 200 else None
        if slug == goal["evidence"]:
            if self.require_quote and not any(
                self.supports(goal, trace, url, text, goal["answer"]) for url, text in trace.quotes
            ):
                for passage in quotable_passages(page):
                    if self.supports(goal, trace, page.url, passage, goal["answer"]):
                        return format_command(Quote(passage))
            return format_command(Answer(goal["answer"]))
        # Read the chain in order, as an agent that only sees the pages must: the subject first, then
        # each linked article. (Jumping to a later article seen in search results would be a guess.)
        position = chain.index(slug) if slug in chain else -1
        target = position + 1
        href = article_url(chain[target])
        link = next((e for e in page.elements if e.role == "link" and e.attrs.get("href") == href), None)
        if link is not None:
            return format_command(Click(link.id))
        return format_command(Search(goal["chain_names"][target]))
