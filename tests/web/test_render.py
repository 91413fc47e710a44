"""The HTML-to-text rendering: a pure function of (HTML, URL, field values)."""

from __future__ import annotations

from rlft.envs.web.render import CHECKED, UNCHECKED, render_page

FORM_PAGE = """<!DOCTYPE html><html><head><title>Shop &amp; Co</title><style>p{color:red}</style>
<script>document.write("never shown")</script></head><body>
<h1>Results</h1>
<form action="/search" method="get">
  <input type="search" name="q" aria-label="Search" value="red  shirt">
  <input type="hidden" name="page" value="1"><button type="submit">Search</button>
</form>
<ul><li><a href="/p/1">Red   shirt</a> $12.00</li><li><a href="/p/2">Blue <b>shirt</b></a></li></ul>
<form method="POST" action="/buy">
  <label for="c">Color</label>
  <select id="c" name="color"><option value="">-- choose --</option><option value="r">Red</option>
  <option value="b" selected>Blue</option></select>
  <label><input type="checkbox" name="gift" checked> Gift wrap</label>
  <input type="radio" name="ship" value="fast" id="f"><label for="f">Fast</label>
  <textarea name="note" aria-label="Note">hi
there "x"</textarea>
  <input type="password" name="pw" aria-label="Password" value="secret">
  <input type="submit" value="Buy now" disabled>
</form>
<div hidden>secret text</div><p aria-hidden="true">also hidden</p>
<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>
<a>not a link</a>
</body></html>"""


def test_elements_are_numbered_in_document_order_with_roles_names_values() -> None:
    page = render_page(FORM_PAGE, "/x")
    assert page.title == "Shop & Co"
    roles = [(e.id, e.role, e.name) for e in page.elements]
    assert roles == [
        (1, "searchbox", "Search"),
        (2, "button", "Search"),
        (3, "link", "Red shirt"),
        (4, "link", "Blue shirt"),
        (5, "combobox", "Color"),
        (6, "checkbox", "Gift wrap"),
        (7, "radio", "Fast"),
        (8, "textbox", "Note"),
        (9, "textbox", "Password"),
        (10, "button", "Buy now"),
    ]
    by_id = {e.id: e for e in page.elements}
    assert by_id[1].value == "red  shirt"
    assert by_id[5].value == "Blue" and by_id[5].options == ("-- choose --", "Red", "Blue")
    assert by_id[5].option_values == ("", "r", "b")
    assert by_id[6].value == CHECKED and by_id[7].value == UNCHECKED
    assert by_id[8].value == 'hi\nthere "x"'
    assert by_id[10].disabled
    assert [e.form for e in page.elements] == [0, 0, -1, -1, 1, 1, 1, 1, 1, 1]
    assert page.forms[0].action == "/search" and page.forms[0].method == "get"
    assert page.forms[0].hidden == (("page", "1"),)
    assert page.forms[1].method == "post"


def test_text_layout_and_hidden_content() -> None:
    text = render_page(FORM_PAGE, "/x").text
    lines = text.split("\n")
    assert "# Results" in lines
    assert '- [3] link "Red shirt" $12.00' in lines
    assert '[5] combobox "Color" value="Blue" options=["-- choose --", "Red", "Blue"]' in text
    assert '[6] checkbox "Gift wrap" (checked)' in text
    assert '[7] radio "Fast" (unchecked)' in text
    # JSON quoting keeps multi-line values on one line; passwords are masked.
    assert '[8] textbox "Note" value="hi\\nthere \\"x\\""' in text
    assert '[9] textbox "Password" value="******"' in text
    assert '[10] button "Buy now" (disabled)' in text
    assert "a | b" in lines and "1 | 2" in lines
    for absent in ("never shown", "secret text", "also hidden", "color:red", "Fast Fast"):
        assert absent not in text
    assert "not a link" in text  # an <a> without href is plain text


def test_values_override_defaults_and_keep_exact_spacing() -> None:
    page = render_page(
        FORM_PAGE, "/x", {1: "blue  jeans", 5: "Red", 6: UNCHECKED, 7: CHECKED, 999: "ignored"}
    )
    assert page.elements[0].value == "blue  jeans"
    assert '[1] searchbox "Search" value="blue  jeans"' in page.text
    assert '[5] combobox "Color" value="Red"' in page.text
    assert '[6] checkbox "Gift wrap" (unchecked)' in page.text
    assert '[7] radio "Fast" (checked)' in page.text


def test_rendering_is_pure_and_survives_broken_html() -> None:
    assert render_page(FORM_PAGE, "/x") == render_page(FORM_PAGE, "/x")
    broken = "<p>unclosed <a href='/a'>link <b>bold<div>x</p></span><select><option>o1<option>o2</select>\x00"
    page = render_page(broken, "/b")
    assert [e.role for e in page.elements] == ["link", "combobox"]
    assert page.elements[1].options == ("o1", "o2")
    assert render_page("", "/").text == ""
    # Text that looks like a token cannot forge elements.
    forged = render_page("<p>[1] link &quot;x&quot; \x00" + "0\x00</p>", "/")
    assert forged.elements == ()


def test_a_line_break_in_the_source_is_a_space_except_in_pre() -> None:
    """As in a browser: inline text and elements wrapped in the HTML source stay on one line."""
    page = render_page(
        "<p>born in\n<a href='/w/g'>Guyestgrad</a>\nin 1788</p><pre>x = 1\ny = 2</pre><p>end</p>", "/"
    )
    assert page.text.splitlines() == ['born in [1] link "Guyestgrad" in 1788', "x = 1", "y = 2", "end"]
    assert page.elements[0].context == "in 1788"
