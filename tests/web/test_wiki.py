"""The encyclopedia site on its own: content, questions, scoring, WSGI pages, search, candidates, expert."""

from __future__ import annotations

import io
import os
import pickle
import re
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from rlft.envs.contract import SPLITS
from rlft.envs.web.render import render_page
from rlft.envs.web.sites.wiki import WikiSite, article_slug
from rlft.envs.web.sites.wiki_content import ART_FORMS, ENTITY_RELATIONS, KnowledgeBase, knowledge_base
from rlft.envs.web.sites.wiki_scoring import contains_phrase, exact_match, normalize_answer, token_f1
from rlft.envs.web.task import Task, Trace
from rlft.envs.web.tasks import TASKS
from rlft.envs.web.tasks.qa import QATask, quotable_passages
from rlft.envs.web.tasks.wiki_questions import TEMPLATES, build_questions, question_phrases, questions
from rlft.errors import ConfigError


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return knowledge_base(0)


@pytest.fixture(scope="module")
def site() -> WikiSite:
    return WikiSite()


def get(site: WikiSite, path: str, query: str = "", method: str = "GET") -> tuple[int, dict[str, str], str]:
    """Call the WSGI app with a minimal environ."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "wsgi.input": io.BytesIO(b""),
    }
    response: dict = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
        response["status"] = int(status.split()[0])
        response["headers"] = dict(headers)

    body = b"".join(site(environ, start_response)).decode()
    return response["status"], response["headers"], body


def page_of(site: WikiSite, url: str):
    path, _, query = url.partition("?")
    status, _, body = get(site, path, query)
    return render_page(body, url, status=status)


# -- content -----------------------------------------------------------------------------------------
def test_knowledge_base_is_large_unique_and_deterministic(kb: KnowledgeBase) -> None:
    assert len(kb.articles) >= 2000
    names = [normalize_answer(e.name) for e in kb.entities]
    assert len(set(names)) == len(names), "every name identifies one article, also after normalisation"
    assert len({e.slug for e in kb.entities}) == len(kb.entities)
    again = KnowledgeBase(0)
    assert [(e.name, e.facts) for e in again.entities] == [(e.name, e.facts) for e in kb.entities]
    assert again.articles == kb.articles
    other = KnowledgeBase(1)
    assert [e.name for e in other.entities] != [e.name for e in kb.entities]


_DIGEST = """
import hashlib, json
from rlft.envs.web.sites.wiki_content import knowledge_base
from rlft.envs.web.sites.wiki_html import article_html
from rlft.envs.web.tasks.wiki_questions import questions
kb = knowledge_base(0)
pages = [article_html(kb.articles[slug]) for slug in sorted(kb.articles)[::40]]
print(hashlib.sha256(json.dumps([questions(0), pages]).encode()).hexdigest())
"""


def test_content_is_identical_in_another_process_with_another_hash_seed() -> None:
    runs = [
        subprocess.run(
            [sys.executable, "-c", _DIGEST],
            capture_output=True,
            text=True,
            check=True,
            env=dict(os.environ, PYTHONHASHSEED=seed),
        ).stdout
        for seed in ("1", "2")
    ]
    assert runs[0] == runs[1] and len(runs[0].strip()) == 64


def test_facts_are_consistent(kb: KnowledgeBase) -> None:
    for e in kb.entities:
        for relation, kind in ENTITY_RELATIONS.items():
            if relation in e.facts:
                assert kb.target(e, relation).kind == kind
        if e.kind == "country":
            assert kb.target(kb.target(e, "capital"), "country").index == e.index
        elif e.kind == "person":
            assert e.facts["death_year"] > e.facts["birth_year"]
        elif e.kind == "organisation":
            assert 22 <= e.facts["founded"] - kb.target(e, "founder").facts["birth_year"] < 60
        elif e.kind == "work":
            creator = kb.target(e, "creator")
            assert creator.facts["occupation"] == ART_FORMS[e.facts["form"]].occupation
            assert creator.facts["birth_year"] + 20 <= e.facts["year"] <= creator.facts["death_year"]


def test_every_fact_is_in_the_infobox(kb: KnowledgeBase) -> None:
    for e in kb.entities[::7]:
        values = {value for _, value in kb.articles[e.slug].infobox}
        for relation in e.facts:
            assert kb.value_text(e, relation) in values


# -- questions -----------------------------------------------------------------------------------------
def test_questions_splits_are_fixed_disjoint_and_large() -> None:
    qs = questions(0)
    assert build_questions(KnowledgeBase(0)) == qs
    assert len(qs["test"]) >= 500 and len(qs["validation"]) >= 500 and len(qs["train"]) >= 5000
    evidence = {split: {q["evidence"] for q in qs[split]} for split in SPLITS}
    assert not evidence["train"] & evidence["test"]
    assert not evidence["train"] & evidence["validation"]
    assert not evidence["validation"] & evidence["test"]
    for split in SPLITS:
        hops = Counter(q["hops"] for q in qs[split])
        assert hops[1] > 0.3 * len(qs[split]) and hops[2] > 0.3 * len(qs[split])
        assert {q["template"] for q in qs[split]} == {t.key for t in TEMPLATES}
    ids = [q["id"] for split in SPLITS for q in qs[split]]
    assert len(set(ids)) == len(ids)


def test_answers_are_stated_on_the_evidence_article_and_chains_are_linked(kb: KnowledgeBase) -> None:
    for q in questions(0)["test"]:
        article = kb.articles[q["evidence"]]
        assert q["answer"] in {value for _, value in article.infobox}
        assert q["chain"][-1] == q["evidence"] and len(q["chain"]) == q["hops"]
        for here, there in zip(q["chain"][:-1], q["chain"][1:], strict=True):
            linked = {
                seg.slug for p in kb.articles[here].paragraphs for s in p for seg in s if hasattr(seg, "slug")
            }
            assert there in linked
        # The answer is never an entity of the chain itself (no degenerate questions).
        assert normalize_answer(q["answer"]) not in {normalize_answer(n) for n in q["chain_names"]}


def test_question_phrases_find_the_subject_of_every_question() -> None:
    for split in SPLITS:
        for q in questions(0)[split]:
            assert q["chain_names"][0] in question_phrases(q["question"])
    assert question_phrases("Who founded the University of Skandos?") == ["University of Skandos"]
    assert question_phrases("In which city was the author of the novel The Glass Lantern born?") == [
        "The Glass Lantern"
    ]
    assert question_phrases("what is this?") == []


# -- scoring -------------------------------------------------------------------------------------------
def test_answer_normalisation_exact_match_and_f1() -> None:
    assert normalize_answer("  The Glass-Lantern! ") == "glass lantern"
    assert normalize_answer("1,111,500") == "1111500"
    assert exact_match("the glass lantern.", "The Glass Lantern")
    assert not exact_match("", "")
    assert not exact_match("Glass", "The Glass Lantern")
    assert token_f1("Glass", "The Glass Lantern") == pytest.approx(2 / 3)
    assert token_f1("Isela Dravik Smith", "Isela Dravik") == pytest.approx(0.8)
    assert token_f1("nothing", "Isela Dravik") == 0.0
    assert token_f1("", "x") == 0.0
    assert contains_phrase('born in [4] link "Zougrad" .', "Zougrad")
    assert not contains_phrase("Isela went to Dravik", "Isela Dravik")


# -- serving -------------------------------------------------------------------------------------------
def test_pages_are_server_rendered_and_link_only_to_the_site(site: WikiSite, kb: KnowledgeBase) -> None:
    slug = kb.entities[kb.by_kind["person"][5]].slug
    for path, query in [("/", ""), ("/search", "q=glass"), (f"/wiki/{slug}", ""), ("/nope", "")]:
        _, headers, body = get(site, path, query)
        assert headers["Content-Type"].startswith("text/html")
        assert "<script" not in body.lower()
        for href in re.findall(r'href="([^"]*)"', body):
            assert href.startswith("/") and not href.startswith("//")
        assert '<form action="/search" method="get"' in body and 'name="q"' in body
    assert get(site, "/")[0] == 200
    assert get(site, "/nope")[0] == 404
    assert get(site, "/wiki/No_Such_Article")[0] == 404
    assert get(site, "/", method="POST")[0] == 405


def test_article_links_resolve_and_text_is_escaped(site: WikiSite, kb: KnowledgeBase) -> None:
    for e in kb.entities[::50]:
        page = page_of(site, f"/wiki/{e.slug}")
        assert page.status == 200 and page.title.startswith(e.name)
        for element in page.elements:
            href = element.attrs.get("href", "")
            if href.startswith("/wiki/"):
                assert article_slug(href) in kb.articles
    status, _, body = get(site, "/search", "q=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert status == 200 and "<script>" not in body and "&lt;script&gt;" in body


def test_search_ranks_the_named_article_first(site: WikiSite, kb: KnowledgeBase) -> None:
    for e in kb.entities[::97]:
        page = page_of(site, f"/search?q={e.name.replace(' ', '+')}")
        first = next(el for el in page.elements if el.attrs.get("href", "").startswith("/wiki/"))
        assert first.attrs["href"] == f"/wiki/{e.slug}"
    # Partial queries still find it (BM25 over titles and text).
    work = kb.entities[kb.by_kind["work"][0]]
    page = page_of(site, "/search?q=" + work.name.split()[-1])
    assert f"/wiki/{work.slug}" in [el.attrs.get("href") for el in page.elements]
    assert "No articles match" in page_of(site, "/search?q=zzzzqqq").text


# -- episodes ------------------------------------------------------------------------------------------
def make_task(site: QATask, seed: int, split: str = "test") -> Task:
    return site.reset(np.random.default_rng(seed), split)


def run_expert(site: QATask, task: Task, max_steps: int = 10) -> tuple[Trace, list[str]]:
    """Drive the site's expert through the real WSGI pages (a minimal browser for the grammar it uses)."""
    url, trace, actions = task.start_url, Trace(visited=(task.start_url,)), []
    for _ in range(max_steps):
        page = page_of(site.site, url)
        action = site.expert_action(task, page, trace)
        actions.append(action)
        assert action in site.candidates(task, page) or action.startswith("click[")
        name, arg = action.split("[", 1)[0], action[action.index("[") + 1 : -1]
        if name == "click":
            url = page.element(int(arg)).attrs["href"]
        elif name == "search":
            url = "/search?q=" + arg.replace(" ", "+")
        elif name == "quote":
            trace = Trace(visited=trace.visited, quotes=(*trace.quotes, (url, arg)))
            continue
        elif name == "answer":
            return Trace(answer=arg, visited=trace.visited, quotes=trace.quotes), actions
        trace = Trace(visited=(*trace.visited, url), quotes=trace.quotes)
    raise AssertionError(f"the expert did not answer: {actions}")


@pytest.mark.parametrize("require_quote", [False, True])
def test_expert_answers_correctly(require_quote: bool) -> None:
    site = QATask(require_quote=require_quote)
    for seed in range(25):
        task = make_task(site, seed)
        trace, actions = run_expert(site, task)
        evaluation = site.evaluate(task, trace)
        assert evaluation.done and evaluation.success and evaluation.reward == 1.0, actions
        assert len(actions) == task.goal["hops"] + 1 + int(require_quote) + 1
        assert any(a.startswith("quote[") for a in actions) == require_quote


def test_reward_partial_credit_and_quote_grounding(kb: KnowledgeBase) -> None:
    plain, grounded = QATask(), QATask(require_quote=True)
    task = next(t for t in (make_task(plain, s) for s in range(50)) if t.goal["template"] == "org.founder")
    goal = task.goal
    evidence_url = f"/wiki/{goal['evidence']}"
    visited = ("/", evidence_url)

    assert not plain.evaluate(task, Trace(visited=visited)).done
    stopped = plain.evaluate(task, Trace(stopped=True, visited=visited))
    assert stopped.done and stopped.reward == 0.0 and not stopped.success
    first_name = goal["answer"].split()[0]
    partial = plain.evaluate(task, Trace(answer=first_name, visited=visited))
    assert partial.done and partial.reward == pytest.approx(2 / 3) and not partial.success
    assert plain.evaluate(task, Trace(answer="Nobody Atall", visited=visited)).reward == 0.0
    assert plain.evaluate(task, Trace(answer=goal["answer"].upper() + ".", visited=visited)).success

    row = f"Founder | {goal['answer']}"
    assert grounded.evaluate(task, Trace(answer=goal["answer"], visited=visited)).reward == 0.0
    ok = grounded.evaluate(task, Trace(answer=goal["answer"], quotes=((evidence_url, row),), visited=visited))
    assert ok.success and ok.reward == 1.0 and ok.details["supported"]
    # A quote from a page the agent never visited, or text that is not on the page, supports nothing.
    unvisited = Trace(answer=goal["answer"], quotes=((evidence_url, row),), visited=("/",))
    assert not grounded.evaluate(task, unvisited).success
    invented = Trace(
        answer=goal["answer"], quotes=((evidence_url, f"Founder {goal['answer']} indeed"),), visited=visited
    )
    assert not grounded.evaluate(task, invented).success
    # A quote that does not contain the answer does not support it.
    other_row = next(
        f"{label} | {value}" for label, value in kb.articles[goal["evidence"]].infobox if label == "Type"
    )
    wrong = Trace(answer=goal["answer"], quotes=((evidence_url, other_row),), visited=visited)
    assert not grounded.evaluate(task, wrong).success
    # The founder's own article states the same fact and names the organisation: that supports it too.
    founder_url = f"/wiki/{kb.target(kb.by_slug[goal['evidence']], 'founder').slug}"
    sentence = next(
        p
        for p in quotable_passages(page_of(grounded.site, founder_url))
        if goal["chain_names"][-1] in p and "founded" in p
    )
    elsewhere = Trace(
        answer=goal["answer"], quotes=((founder_url, sentence),), visited=(*visited, founder_url)
    )
    assert grounded.evaluate(task, elsewhere).success


def test_candidates_offer_searches_answers_and_quotes(kb: KnowledgeBase) -> None:
    site = QATask()
    for seed in range(20):
        task = make_task(site, seed)
        goal = task.goal
        home = site.candidates(task, page_of(site.site, "/"))
        assert f"search[{goal['chain_names'][0]}]" in home
        assert not any(c.startswith(("answer[", "quote[")) for c in home)
        evidence_page = page_of(site.site, f"/wiki/{goal['evidence']}")
        offered = site.candidates(task, evidence_page)
        assert f"answer[{goal['answer']}]" in offered
        assert len(offered) <= 50
        quotes = [c[6:-1] for c in offered if c.startswith("quote[")]
        trace = Trace(visited=(evidence_page.url,))
        assert any(site.supports(goal, trace, evidence_page.url, q, goal["answer"]) for q in quotes)
        for q in quotes:
            assert " ".join(q.split()).lower() in " ".join(evidence_page.text.split()).lower()


def test_reset_samples_with_the_given_rng_and_respects_hops() -> None:
    site = QATask()
    assert make_task(site, 3) == make_task(site, 3)
    assert len({make_task(site, s).goal["id"] for s in range(20)}) > 15
    for hops, depth in [("single", 1), ("two", 2)]:
        narrow = QATask(hops=hops)
        assert {make_task(narrow, s).goal["hops"] for s in range(20)} == {depth}
        assert 0 < narrow.num_goals("test") < site.num_goals("test")
    assert site.num_goals("test") == len(questions(0)["test"])
    train = {make_task(site, s, "train").goal["evidence"] for s in range(50)}
    assert not train & {q["evidence"] for q in questions(0)["test"]}


def test_state_pickle_and_kwargs() -> None:
    site = TASKS.get("qa")(content_seed=0, require_quote=True, hops="two")
    assert isinstance(site, QATask) and isinstance(site.site, WikiSite) and site.get_state() == {}
    site.set_state({})
    with pytest.raises(ConfigError):
        site.set_state({"cart": []})
    clone = pickle.loads(pickle.dumps(site))
    assert len(pickle.dumps(site)) < 1000
    assert (clone.require_quote, clone.hops) == (True, "two")
    assert get(clone.site, "/search", "q=glass") == get(site.site, "/search", "q=glass")
    for bad in [dict(hops="three"), dict(require_quote="yes"), dict(content_seed=-1), dict(content_seed=1.5)]:
        with pytest.raises(ConfigError):
            QATask(**bad)
    with pytest.raises(ConfigError):
        site.reset(np.random.default_rng(0), "testing")
