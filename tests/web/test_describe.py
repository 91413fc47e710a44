"""Grounded candidates: what each command acts on, in words (rlft.envs.web.describe and the env's key)."""

from __future__ import annotations

import gymnasium as gym
import pytest
import rlft
from rlft.envs.text import clean_text
from rlft.envs.web.describe import Describer, View, describe_command, describe_commands
from rlft.envs.web.render import layout_page, parse_html, render_page

RESULTS = """<html><body>
<form action="/search"><input type="search" name="q" aria-label="Search products" value="sneakers">
<button>Search</button></form>
<h1>Results for "sneakers"</h1>
<ul>
<li><a href="/p/1">Acme slip-on canvas sneakers, purple</a> $35.99, rated 4.2 (31 reviews)</li>
<li><a href="/p/2">Zed runner</a> $12.00</li>
</ul>
<table><tr><td>Ada</td><td>32</td><td><a href="/edit/ada">Edit</a></td></tr></table>
<h2>Options</h2>
<label><input type="checkbox" name="gift"> Gift wrap</label>
<p>Which size?</p>
<input type="radio" name="size" value="s" aria-label="Small" checked>
<input type="radio" name="size" value="m" aria-label="Medium">
<select name="size2" aria-label="Size"><option>-- choose --</option><option>m</option></select>
<input name="name" aria-label="Name" value="Ada">
<input type="password" name="pw" aria-label="Password" value="secret">
<button type="reset">Clear</button>
<a href="/next" disabled>Later</a>
</body></html>"""


def _page(values: dict[int, str] | None = None):
    return render_page(RESULTS, "/search?q=sneakers", values)


def _id(page, name: str) -> int:
    return next(e.id for e in page.elements if e.name == name)


def _clicks(page) -> dict[str, str]:
    """The description of ``click[N]`` on each element of ``page``, by the element's name."""
    view = View(page)
    return {e.name: describe_command(f"click[{e.id}]", view) for e in page.elements}


def test_every_element_command_names_its_target_state_and_surroundings() -> None:
    page = _page()
    view = View(page, previous_url="/")
    under = ' (under "Which size?" in "Options")'  # the line above it, and its subheading
    cases = {
        f"click[{_id(page, 'Acme slip-on canvas sneakers, purple')}]": (
            'link "Acme slip-on canvas sneakers, purple" $35.99, rated 4.2 (31 reviews)'
        ),
        f"click[{_id(page, 'Zed runner')}]": 'link "Zed runner" $12.00',
        f"click[{_id(page, 'Edit')}]": 'link "Edit" Ada | 32',  # the row's cells before it
        f"click[{_id(page, 'Gift wrap')}]": (
            'checkbox "Gift wrap" (now unchecked): check it (under "Options")'
        ),
        f"click[{_id(page, 'Small')}]": 'radio "Small" (now checked): already chosen' + under,
        f"click[{_id(page, 'Medium')}]": 'radio "Medium" (now unchecked): choose it' + under,
        f"select[{_id(page, 'Size')}][m]": 'combobox "Size" (now "-- choose --") option "m"' + under,
        f"type[{_id(page, 'Name')}][Bob]": 'textbox "Name" (now "Ada")' + under + ': type "Bob"',
        f"type[{_id(page, 'Password')}][x]": 'textbox "Password" (now "******")' + under + ': type "x"',
        f"type[{_id(page, 'Search products')}][red shirt]": (
            'searchbox "Search products" (now "sneakers"): type "red shirt"'
        ),
        f"click[{_id(page, 'Clear')}]": 'button "Clear": reset the form' + under,
        "click[99]": f"no element [99] on this page (elements are numbered 1 to {len(page.elements)})",
    }
    for command, expected in cases.items():
        assert describe_command(command, view) == expected, command


def test_every_other_command_kind_is_self_describing() -> None:
    long_page = render_page(
        "<html><body>" + "".join(f"<p>line {i}</p>" for i in range(240)) + "</body></html>", "/a"
    )
    view = View(long_page, scroll=60, size=60, previous_url="/search?q=red+shirt")
    assert describe_command("scroll[down]", view) == "scroll down: lines 121-180 of 240"
    assert describe_command("scroll[up]", view) == "scroll up: lines 1-60 of 240"
    assert describe_command("scroll[bottom]", view) == "scroll bottom: lines 181-240 of 240"
    assert describe_command("scroll[up]", View(long_page)) == "scroll up: already at the top"
    assert describe_command("find[line 7]", view) == 'find "line 7": line 71 of 240: line 70'
    assert describe_command("find[no such text]", view) == 'find "no such text": not on this page'
    assert describe_command("back", view) == "back to /search?q=red+shirt"
    assert describe_command("back", View(long_page)) == "back: there is no previous page"
    assert describe_command("goto[/cart]", view) == "go to /cart"
    assert describe_command("quote[line 3]", view) == 'quote "line 3" as evidence from /a'
    assert describe_command("quote[absent]", view) == 'quote "absent" as evidence (not on this page)'
    assert describe_command("answer[1889]", view) == 'answer "1889" (not on this page) and end the episode'
    assert describe_command("answer[Line 7]", view) == (
        'answer "Line 7", from the line "line 7", and end the episode'
    )
    assert describe_command("stop", view) == "stop: end the episode here"
    page = _page()
    assert describe_command("search[red shirt]", View(page)) == (
        'search box "Search products": search for "red shirt"'
    )
    assert describe_command("search[x]", View(long_page)) == 'no search box on this page: search for "x"'
    assert describe_command("dance[now]", view).startswith("not a valid command: Unknown command 'dance'")


def test_find_names_the_line_it_scrolls_to() -> None:
    page = render_page(
        "<html><body>" + "".join(f"<p>row {i}</p>" for i in range(100)) + "</body></html>", "/a"
    )
    assert (
        describe_command("find[row 42]", View(page, scroll=0, size=10))
        == 'find "row 42": line 43 of 100: row 42'
    )


def test_an_answer_names_the_first_line_that_holds_it() -> None:
    # An infobox: the row's label is what tells a birthplace from a birth year.
    page = render_page(
        "<html><body><h1>Trounric Costov</h1><p>Mathematician</p><p>Born | 1616</p>"
        "<p>Birthplace | Pounuxesk</p><p>Occupation | mathematician</p>"
        '<p>Costov (1616-1659) was a mathematician from <a href="/wiki/P">Pounuxesk</a>.</p></body></html>',
        "/wiki/Trounric_Costov",
    )
    view = View(page, scroll=0, size=2)  # lines off screen count too
    assert describe_command("answer[Pounuxesk]", view) == (
        'answer "Pounuxesk", from the line "Birthplace | Pounuxesk", and end the episode'
    )
    assert describe_command("answer[1616]", view) == (
        'answer "1616", from the line "Born | 1616", and end the episode'
    )
    # A line holding more than the text itself (a row, not the subtitle) comes first.
    assert describe_command("answer[mathematician]", view) == (
        'answer "mathematician", from the line "Occupation | mathematician", and end the episode'
    )
    assert describe_command("answer[Trounric Costov]", view) == (
        'answer "Trounric Costov", from the line "# Trounric Costov", and end the episode'
    )
    assert describe_command("answer[ ]", view) == 'answer "" (not on this page) and end the episode'
    # Whole words only: "16" is not in "1616", nor "mat" in "mathematician".
    assert describe_command("answer[16]", view) == 'answer "16" (not on this page) and end the episode'
    assert describe_command("answer[mat]", view) == 'answer "mat" (not on this page) and end the episode'


def test_descriptions_are_one_line_quoted_and_bounded() -> None:
    page = render_page('<html><body><a href="/x">Say "hi"\\ now</a></body></html>', "/")
    assert describe_command("click[1]", View(page)) == 'link "Say \\"hi\\"\\\\ now"'
    long = "word " * 150
    text = describe_command(f"type[1][{long}]", View(page))
    assert "\n" not in text and len(text) < 400 and text.endswith('..."')
    assert describe_command("answer[a\nb\tc]", View(page)) == (
        'answer "a b c" (not on this page) and end the episode'
    )


def test_the_describer_remembers_unchanged_elements_and_agrees_with_the_function() -> None:
    document = parse_html(RESULTS)
    size = next(e.id for e in document.elements if e.name == "Size")
    name = next(e.id for e in document.elements if e.name == "Name")
    commands = [
        f"select[{size}][m]",
        f"select[{size}][-- choose --]",
        f"type[{name}][Bob]",
        "click[1]",
        "stop",
    ]
    describer = Describer()
    for values in ({}, {name: "Eve"}, {name: "Eve", size: "m"}, {name: "Eve", size: "m"}, {}):
        page = layout_page(document, "/search?q=sneakers", values)
        view = View(page)
        assert describer(commands, view) == describe_commands(commands, view)
    # Laid out again with the same values, a document hands out the same element objects.
    again = layout_page(document, "/s", {name: "Eve"})
    assert again.elements[name - 1] is layout_page(document, "/t", {name: "Eve"}).elements[name - 1]
    assert layout_page(document, "/s", {}).elements[name - 1] is document.elements[name - 1]


def test_elements_know_the_text_beside_them() -> None:
    page = _page()
    acme = page.element(_id(page, "Acme slip-on canvas sneakers, purple"))
    assert acme.context == "$35.99, rated 4.2 (31 reviews)"
    assert acme.caption == 'Results for "sneakers"'
    search = page.element(_id(page, "Search"))
    assert search.context == "" and search.caption == ""


WEB_IDS = [i for i in rlft.ENV_IDS if i.startswith("rlft/Web")]


@pytest.mark.parametrize("env_id", WEB_IDS)
def test_env_describes_every_admissible_command(env_id: str) -> None:
    env = gym.make(env_id)
    try:
        obs, _ = env.reset(seed=2)
        for _ in range(60):
            commands, descriptions = obs["admissible_commands"], obs["admissible_descriptions"]
            assert isinstance(descriptions, tuple) and len(descriptions) == len(commands)
            assert all(d.strip() and "\n" not in d for d in descriptions)
            assert env.observation_space.contains(obs)
            web = env.unwrapped
            view = View(web.current_page(), web._scroll, web.viewport_lines, web.backend.previous_url)
            fresh = tuple(clean_text(d, 1024) for d in describe_commands(commands, view))
            assert descriptions == fresh, "the env's remembered descriptions agree with a fresh pass"
            obs, _, terminated, truncated, _ = env.step(web.expert_action())
            if terminated or truncated:
                break
    finally:
        env.close()


def test_a_pickled_describer_forgets_but_describes_the_same() -> None:
    import pickle

    page = _page()
    commands = [f"click[{e.id}]" for e in page.elements]
    describer = Describer()
    first = describer(commands, View(page))
    clone = pickle.loads(pickle.dumps(describer))
    assert clone._known == {} and clone(commands, View(page)) == first


PROSE = (
    """<html><body><h1>Kuo Vramik</h1>
<table><tr><td>Ada of the Harbour</td><td><a href="/edit">Edit</a></td></tr></table>
<p>Kuo Vramik (1788-1877) was a playwright from <a href="/w/g">Guyestgrad</a>. For most of a long career
Vramik worked for <a href="/w/h">House of Mikourn</a>. <a href="/w/m">Marest</a> fell. Vramik is known for the
play <a href="/w/t">The Harbour</a> (1850) and its sequel. """
    + "Very " * 60
    + """long words before
<a href="/w/l">Late</a></p>
<p>Go <a href="/w/x">home</a> now</p>
</body></html>"""
)


def test_an_element_inside_prose_is_described_by_its_own_sentence() -> None:
    """The words before a link in running text say what it stands for; the next sentence does not."""
    page = render_page(PROSE, "/w/k")
    described = _clicks(page)
    assert described["Guyestgrad"] == (
        'link "Guyestgrad" in "Kuo Vramik (1788-1877) was a playwright from Guyestgrad ."'
    )
    assert described["House of Mikourn"] == (
        'link "House of Mikourn" in "For most of a long career Vramik worked for House of Mikourn ."'
    )
    assert described["The Harbour"] == (
        'link "The Harbour" in "Vramik is known for the play The Harbour (1850) and its sequel."'
    )
    # Fewer than three words of the sentence before it: the text after it, as anywhere else.
    assert described["Marest"] == 'link "Marest" fell. Vramik is known for the play'
    assert described["home"] == 'link "home" now'
    # A long sentence keeps its end, next to the link.
    late = described["Late"]
    assert late.startswith('link "Late" in "...') and late.endswith('Very long words before Late"'), late
    assert len(late) < 260
    # A link that starts a table cell keeps its row's cells.
    assert described["Edit"] == 'link "Edit" Ada of the Harbour'
    lead = {e.name: e.lead for e in page.elements}
    assert lead["Edit"] == lead["Marest"] == lead["home"] == ""
    assert lead["Guyestgrad"] == "Kuo Vramik (1788-1877) was a playwright from"


LISTS = """<html><body>
<h1>Results</h1>
<ol start="5"><li><a href="/p/5">Elena Sato</a> (Malmo)</li><li><a href="/p/6">Lara Quispe</a>
<ul><li><a href="/p/x">Profile</a></li></ul></li>
<li value="9"><a href="/p/9">Mina Mensah</a></li><li><a href="/p/10">Tariq Wong</a></li></ol>
<ol><li>Plain <a href="/p/a">first</a></li></ol>
<ol start="x"><li><a href="/p/b">Bad start</a></li></ol>
<ul><li><a href="/p/c">Bullet</a></li></ul>
<a href="/after">After the lists</a>
</body></html>"""


def test_ordered_list_items_are_numbered_as_a_browser_numbers_them() -> None:
    """To open "the 6th result" an agent needs the rank a browser shows (``<ol start>``, ``<li value>``)."""
    page = render_page(LISTS, "/search")
    assert page.text.splitlines()[1:] == [
        '5. [1] link "Elena Sato" (Malmo)',
        '6. [2] link "Lara Quispe"',
        '- [3] link "Profile"',
        '9. [4] link "Mina Mensah"',
        '10. [5] link "Tariq Wong"',
        '1. Plain [6] link "first"',
        '1. [7] link "Bad start"',
        '- [8] link "Bullet"',
        '[9] link "After the lists"',
    ]
    assert [e.item for e in page.elements] == [5, 6, 0, 9, 10, 1, 1, 0, 0]
    view = View(page)
    described = [describe_command(f"click[{e.id}]", view) for e in page.elements]
    assert described[0] == 'link "Elena Sato" (Malmo) (item 5)'
    assert described[1] == 'link "Lara Quispe" (under "Results") (item 6)'
    assert described[2] == 'link "Profile" (under "Results")'  # a bullet has no number
    assert described[8] == 'link "After the lists" (under "Results")'


SECTIONS = """<html><body>
<h1>Team directory</h1>
<p>Pick a colleague.</p>
<form><input name="q" aria-label="Query">
<h2>Tab 3: Yusuf Lopez</h2>
<p>Office: Oslo. Extension: 8002.</p>
<input name="extension" aria-label="Extension">
<h2>Delivery</h2>
<label><input type="radio" name="d" value="s">Standard</label>
<h3>Payment</h3>
<p>Card details</p>
<input name="card" aria-label="Card"> <button>Pay</button>
</form></body></html>"""


def test_a_field_under_a_plain_line_names_the_subheading_it_sits_under() -> None:
    page = render_page(SECTIONS, "/")
    described = _clicks(page)
    assert described["Extension"] == (
        'textbox "Extension": only focuses it'
        ' (under "Office: Oslo. Extension: 8002." in "Tab 3: Yusuf Lopez")'
    )
    # Its caption is the subheading itself: named once. The page's title is not a section.
    assert described["Standard"].endswith('(under "Delivery")'), described["Standard"]
    assert described["Query"].endswith('(under "Pick a colleague.")'), described["Query"]
    # The nearest subheading counts, whatever its level.
    assert page.element(_id(page, "Card")).section == "Payment"
    assert {e.name: e.section for e in page.elements}["Query"] == ""
