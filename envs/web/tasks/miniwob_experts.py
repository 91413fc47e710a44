"""Scripted experts for MiniWoB++ tasks, in the agent's own commands (MiniWoB ships no solvers).

Each expert is a function ``(instruction, page) -> command``: it reads only what the agent sees (the
utterance and the rendered live page, element values included) and returns the next command formatted
with :func:`~rlft.envs.web.commands.format_command`. Multi-step experts are stateless: they look at the
page to see what is already done (a field already holding its text, a box already ticked, a section
already open) and do the next thing. :data:`EXPERTS` maps MiniWoB's task name to its expert.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from fractions import Fraction

from rlft.envs.web.commands import Click, Select, Type, format_command
from rlft.envs.web.page import Element, Page
from rlft.envs.web.render import CHECKED
from rlft.errors import RlftError

__all__ = ["EXPERTS", "Expert", "ExpertError"]

Expert = Callable[[str, Page], str]
"""``(instruction, page) -> command``."""

_QUOTED = re.compile(r'"([^"]*)"')
_TOKEN = re.compile(r"\[(\d+)\] ")
_ORDINALS = {"1st": 0, "2nd": 1, "3rd": 2, "4th": 3, "5th": 4, "6th": 5, "7th": 6, "8th": 7, "9th": 8}
_TEXT_ROLES = ("textbox", "searchbox")


class ExpertError(RlftError):
    """The page does not show what the expert expects (a bug in the expert or a changed task)."""


# -- helpers ------------------------------------------------------------------------------------------------
def _quoted(instruction: str) -> list[str]:
    return _QUOTED.findall(instruction)


def _click(element: Element) -> str:
    return format_command(Click(element.id))


def _type(element: Element, text: str) -> str:
    return format_command(Type(element.id, text))


def _enabled(page: Page, roles: Iterable[str] | None = None) -> list[Element]:
    wanted = tuple(roles) if roles is not None else None
    return [e for e in page.elements if not e.disabled and (wanted is None or e.role in wanted)]


def _named(page: Page, name: str, roles: Iterable[str] | None = None) -> Element | None:
    """The first enabled element named ``name`` (exactly, else ignoring case and spaces)."""
    candidates = _enabled(page, roles)
    for element in candidates:
        if element.name == name:
            return element
    folded = " ".join(name.split()).lower()
    return next((e for e in candidates if " ".join(e.name.split()).lower() == folded), None)


def _need(element: Element | None, what: str) -> Element:
    if element is None:
        raise ExpertError(f"the page shows no {what}")
    return element


def _fields(page: Page) -> list[Element]:
    return _enabled(page, _TEXT_ROLES)


def _inputs(page: Page) -> list[Element]:
    """Single-line text fields (``<input>``), without text areas."""
    return [e for e in _fields(page) if "type" in e.attrs]


def _areas(page: Page) -> list[Element]:
    """Text areas (``<textarea>`` carry no ``type``)."""
    return [e for e in _fields(page) if "type" not in e.attrs]


def _button(page: Page, *names: str) -> Element:
    for name in names or ("Submit",):
        found = _named(page, name, ("button",))
        if found is not None:
            return found
    raise ExpertError(f"the page shows no button {names or ('Submit',)}")


def _fill(pairs: Iterable[tuple[Element, str]], then: Element) -> str:
    """Type each text that is not in its field yet, then click ``then``."""
    for element, text in pairs:
        if element.value != text:
            return _type(element, text)
    return _click(then)


def _ordinal(instruction: str) -> int:
    match = re.search(r"\b(\d+)(?:st|nd|rd|th)\b", instruction)
    if match is None:
        raise ExpertError(f"no ordinal in {instruction!r}")
    return int(match.group(1)) - 1


def _text_lines(page: Page) -> list[str]:
    """The page's lines that hold no element."""
    return [line for line in page.text.split("\n") if not _TOKEN.search(line)]


def _owners(page: Page, marker: re.Pattern[str]) -> dict[int, str]:
    """Element number -> the last line above it (or its own line) matching ``marker`` (group 1)."""
    owner, out = "", {}
    for line in page.text.split("\n"):
        match = marker.search(line)
        if match is not None:
            owner = match.group(1)
        for number in _TOKEN.findall(line):
            out[int(number)] = owner
    return out


# -- experts ------------------------------------------------------------------------------------------------
def click_quoted(instruction: str, page: Page) -> str:
    """``Click on the "X" button`` / ``the link "X"``: click what the quoted text names."""
    name = _quoted(instruction)[0]
    return _click(_need(_named(page, name), f"element {name!r}"))


def click_tab(instruction: str, page: Page) -> str:
    """Solve ``Click on Tab #3.``."""
    name = instruction.removeprefix("Click on ").rstrip(".")
    return _click(_need(_named(page, name, ("link", "button")), f"tab {name!r}"))


def click_the_button(instruction: str, page: Page) -> str:
    """``Click the button.``: the only button."""
    return _click(_enabled(page, ("button",))[0])


def click_named_button(instruction: str, page: Page) -> str:
    """Solve ``Click button ONE.``."""
    name = instruction.rstrip(".").split()[-1]
    return _click(_button(page, name))


def click_dialog(instruction: str, page: Page) -> str:
    """``Close the dialog box by clicking the "x".``: the dialog's close button."""
    return _click(_button(page, "Close", "close", "×"))


def click_dialog_2(instruction: str, page: Page) -> str:
    """``Click the button in the dialog box labeled "X".`` ("x" is the close button)."""
    label = _quoted(instruction)[0]
    return _click(_button(page, "Close") if label == "x" else _button(page, label))


def click_option(instruction: str, page: Page) -> str:
    """``Select X and click Submit.`` with radio buttons."""
    target = instruction.removeprefix("Select ").removesuffix(" and click Submit.")
    radio = _need(_named(page, target, ("radio",)), f"radio {target!r}")
    return _click(_button(page)) if radio.value == CHECKED else _click(radio)


def click_checkboxes(instruction: str, page: Page) -> str:
    """``Select A, B and click Submit.`` (``Select nothing``): tick exactly those, then submit."""
    body = instruction.removeprefix("Select ").removesuffix(" and click Submit.")
    wanted = set() if body == "nothing" else {part.strip() for part in body.split(",")}
    for box in _enabled(page, ("checkbox",)):
        if (box.value == CHECKED) != (box.name.strip() in wanted):
            return _click(box)
    return _click(_button(page))


def choose_list(instruction: str, page: Page) -> str:
    """Solve ``Select X from the list and click Submit.``."""
    target = instruction.removeprefix("Select ").removesuffix(" from the list and click Submit.")
    box = _enabled(page, ("combobox",))[0]
    if box.value == target:
        return _click(_button(page))
    return format_command(Select(box.id, target))


def enter_text(instruction: str, page: Page) -> str:
    """Solve ``Enter "X" into the text field and press Submit.``."""
    return _fill([(_fields(page)[0], _quoted(instruction)[0])], _button(page))


def enter_text_2(instruction: str, page: Page) -> str:
    """Solve ``Type "X" in all lower/upper case letters in the text input and press Submit.``."""
    text = _quoted(instruction)[0]
    text = text.lower() if "lower case" in instruction else text.upper()
    return _fill([(_fields(page)[0], text)], _button(page))


def enter_password(instruction: str, page: Page) -> str:
    """Solve ``Enter the password "X" into both text fields and press submit.``."""
    password = _quoted(instruction)[0]
    return _fill([(field, password) for field in _fields(page)[:2]], _button(page))


def login_user(instruction: str, page: Page) -> str:
    """Solve ``Enter the username "U" and the password "P" into the text fields and press login.``."""
    user, password = _quoted(instruction)[:2]
    fields = _fields(page)
    return _fill([(fields[0], user), (fields[1], password)], _button(page, "Login", "Log in"))


def focus_text(instruction: str, page: Page) -> str:
    """Solve ``Focus into the textbox.`` / ``Focus into the 2nd input textbox.``."""
    index = _ordinal(instruction) if re.search(r"\d(?:st|nd|rd|th)", instruction) else 0
    return _click(_fields(page)[index])


def click_widget(instruction: str, page: Page) -> str:
    """``Click on a "checkbox" widget.`` (radio, checkbox, text, textarea or button)."""
    kind = _quoted(instruction)[0]
    if kind in ("checkbox", "radio"):
        target = _enabled(page, (kind,))[0]
    elif kind == "text":
        target = _inputs(page)[0]
    elif kind == "textarea":
        target = _areas(page)[0]
    else:
        target = next(e for e in _enabled(page, ("button",)) if e.attrs.get("data-rlft-tag") == "button")
    return _click(target)


def copy_paste(instruction: str, page: Page) -> str:
    """Solve ``Copy the text in the (2nd) textarea below, paste it into the textbox and press Submit.``."""
    areas = _areas(page)
    source = areas[_ordinal(instruction)] if re.search(r"\d(?:st|nd|rd|th)", instruction) else areas[0]
    return _fill([(_inputs(page)[0], source.value)], _button(page))


def find_word(instruction: str, page: Page) -> str:
    """Solve ``Find the 2nd word in the paragraph, type that into the textbox and press "Submit".``."""
    words = " ".join(_text_lines(page)).split()
    word = re.sub(r"[^a-zA-Z0-9]", "", words[_ordinal(instruction)])
    return _fill([(_fields(page)[0], word)], _button(page))


def read_table(instruction: str, page: Page) -> str:
    """Solve ``Enter the value of Country into the text field and press Submit.``."""
    label = instruction.removeprefix("Enter the value of ").removesuffix(
        " into the text field and press Submit."
    )
    for line in _text_lines(page):
        key, _, value = line.partition(" | ")
        if key.strip() == label:
            return _fill([(_fields(page)[0], value.strip())], _button(page))
    raise ExpertError(f"no table row {label!r}")


def _email_action(instruction: str, page: Page, icon: str) -> str:
    sender = re.search(r"email by (.+?) and", instruction)
    if sender is None:
        raise ExpertError(f"no sender in {instruction!r}")
    elements = list(page.elements)
    closers = [e for e in _enabled(page) if e.name.startswith("close ")]
    if any(e.name in ("close reply", "close forward") for e in closers):  # a reply or forward form is open
        return _click(next(e for e in closers if e.name in ("close reply", "close forward")))
    if _named(page, "Reply", ("button",)) is not None:  # an email is open: act on it, or close it
        if sender.group(1) in (line.strip() for line in _text_lines(page)):
            return _click(_need(_named(page, icon), f"{icon} icon"))
        return _click(_need(_named(page, "close email"), "close button"))
    for index, element in enumerate(elements):
        if element.name.startswith(sender.group(1) + " "):
            for after in elements[index + 1 :]:
                if after.name == icon:
                    return _click(after)
    # Another view (the search box): leave it.
    leave = next((e for e in _enabled(page) if "cancel" in e.name or e.name.startswith("close ")), None)
    return _click(_need(leave, f"{icon} icon for {sender.group(1)!r}"))


def email_delete(instruction: str, page: Page) -> str:
    """Solve ``Find the email by X and click the trash icon to delete it.``."""
    return _email_action(instruction, page, "trash")


def email_star(instruction: str, page: Page) -> str:
    """Solve ``Find the email by X and click the star icon to mark it as important.``."""
    return _email_action(instruction, page, "star")


_USER = re.compile(r"^(@\S+)$")


def social_media(instruction: str, page: Page) -> str:
    """``For the user @X, click on the "Y" button.``: the user's own post's button (``more`` menu first)."""
    user = re.search(r"@\S+?(?=,|\s|$)", instruction)
    label = _quoted(instruction)[0].lower()
    if user is None:
        raise ExpertError(f"no user in {instruction!r}")
    owners = _owners(page, _USER)
    mine = [e for e in _enabled(page) if owners.get(e.id) == user.group(0)]

    def named(element: Element) -> bool:  # menu items name the user too: "Block @diam"
        return element.name.strip().lower().split(" @")[0] == label

    for element in mine:
        if named(element):
            return _click(element)
    return _click(next(e for e in mine if e.name == "more"))


def buy_ticket(instruction: str, page: Page) -> str:
    """``Buy the ticket with the cheapest/most expensive cost`` / ``shortest/longest duration``."""
    offers = [e for e in _enabled(page, ("button",)) if e.name.startswith("Book for $")]
    if "cost" in instruction:
        key = {e.id: float(e.name.removeprefix("Book for $").replace(",", "")) for e in offers}
    else:
        key = {}
        for line, element in zip([c for c in (e.caption for e in offers)], offers, strict=True):
            hours = re.search(r"(\d+)h", line)
            minutes = re.search(r"(\d+)m", line)
            key[element.id] = 60 * float(hours.group(1) if hours else 0) + float(
                minutes.group(1) if minutes else 0
            )
    cheapest = "cheapest" in instruction or "shortest" in instruction
    best = (min if cheapest else max)(offers, key=lambda e: key[e.id])
    return _click(best)


def click_collapsible(instruction: str, page: Page) -> str:
    """``Expand the section below and click submit.``: open the section if its text is hidden."""
    if _text_lines(page):
        return _click(_button(page))
    return _click(next(e for e in _enabled(page, ("button",)) if e.name.startswith("Section")))


def click_collapsible_2(instruction: str, page: Page) -> str:
    """``Expand the sections below, to find and click on the link "X".``: open sections in turn."""
    name = _quoted(instruction)[0]
    found = _named(page, name)
    if found is not None and not found.name.startswith("Section"):
        return _click(found)
    elements = list(page.elements)
    headers = [i for i, e in enumerate(elements) if e.name.startswith("Section #")]
    open_after = next((i for i in headers if i + 1 < len(elements) and i + 1 not in headers), None)
    if open_after is None:
        return _click(elements[headers[0]])
    following = [i for i in headers if i > open_after]
    return _click(elements[following[0] if following else headers[0]])


_ARITHMETIC = re.compile(r"^(-?\d+)\s*([-+x*/])\s*(-?\d+)\s*=$")
_ALGEBRA = re.compile(r"^(-?\d+|x)\s*([-+])\s*(-?\d+|x)\s*=\s*(-?\d+)$")


def _number(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else str(float(value))


def simple_arithmetic(instruction: str, page: Page) -> str:
    """``Solve the math problem``: ``a op b =`` shown on the page."""
    for line in _text_lines(page):
        match = _ARITHMETIC.match(line.strip())
        if match:
            a, op, b = Fraction(match.group(1)), match.group(2), Fraction(match.group(3))
            value = {"+": a + b, "-": a - b, "x": a * b, "*": a * b}.get(op, a / b if b else Fraction(0))
            return _fill([(_fields(page)[0], _number(value))], _button(page))
    raise ExpertError("no arithmetic problem on the page")


def simple_algebra(instruction: str, page: Page) -> str:
    """``Solve for x``: ``a op x = c`` or ``x op b = c`` shown on the page."""
    for line in _text_lines(page):
        match = _ALGEBRA.match(line.strip())
        if match:
            left, op, right, total = match.group(1), match.group(2), match.group(3), Fraction(match.group(4))
            sign = 1 if op == "+" else -1
            value = total - sign * Fraction(right) if left == "x" else sign * (total - Fraction(left))
            return _fill([(_fields(page)[0], _number(value))], _button(page))
    raise ExpertError("no equation on the page")


def form_sequence_2(instruction: str, page: Page) -> str:
    """Solve ``Check the 1st radio button and enter the number "2" into the 3rd textbox.``."""
    positions = re.findall(r"(\d+)(?:st|nd|rd|th)", instruction)
    radio = _enabled(page, ("radio",))[int(positions[0]) - 1]
    if radio.value != CHECKED:
        return _click(radio)
    field = _fields(page)[int(positions[1]) - 1]
    return _fill([(field, _quoted(instruction)[0])], _button(page))


def form_sequence_3(instruction: str, page: Page) -> str:
    """Solve ``Choose X from the dropdown, then click the button labeled "Y".``."""
    choice = re.search(r"Choose (.+?) from the dropdown", instruction)
    box = _enabled(page, ("combobox",))[0]
    if choice is not None and box.value != choice.group(1):
        return format_command(Select(box.id, choice.group(1)))
    return _click(_button(page, _quoted(instruction)[-1]))


def scroll_text(instruction: str, page: Page) -> str:
    """Solve ``Find the last word in the text area, enter it into the text field and hit Submit.``."""
    word = re.sub(r"[^a-zA-Z0-9]", "", _areas(page)[0].value.split()[-1])
    return _fill([(_inputs(page)[0], word)], _button(page))


def text_transform(instruction: str, page: Page) -> str:
    """Solve ``Type the text below into the text field and press Submit.``."""
    shown = " ".join(_text_lines(page)).strip()
    return _fill([(_fields(page)[0], shown)], _button(page))


def use_spinner(instruction: str, page: Page) -> str:
    """``Select N with the spinner and hit Submit.``: the spinner ignores typing, so click up or down."""
    number = re.search(r"Select (-?\d+)", instruction)
    if number is None:
        raise ExpertError(f"no number in {instruction!r}")
    target, now = int(number.group(1)), int(_fields(page)[0].value or 0)
    if now == target:
        return _click(_button(page))
    way = " up " if now < target else " down "
    return _click(next(e for e in _enabled(page, ("button",)) if way in f" {e.name} "))


def _movie_fields(page: Page) -> dict[str, Element]:
    out: dict[str, Element] = {}
    for field in _fields(page):
        where = f"{field.name} {field.lead} {field.context} {field.caption}".lower()
        for key in ("genre", "director", "year"):
            if key in where or (key == "year" and "date" in where):
                out.setdefault(key, field)
    return out


def multi_form(instruction: str, page: Page) -> str:
    """``Search for G movies directed by D from year Y.`` into labelled fields, then the form's button."""
    match = re.search(r"Search for (.+?) movies directed by (.+?) from year (\d+)", instruction)
    if match is None:
        raise ExpertError(f"no search in {instruction!r}")
    fields = _movie_fields(page)
    if len(fields) < 3:  # labels below their fields (read as the next field's caption): the form's order
        fields = dict(zip(("genre", "director", "year"), _fields(page), strict=False))
    pairs = [
        (fields["genre"], match.group(1)),
        (fields["director"], match.group(2)),
        (fields["year"], match.group(3)),
    ]
    return _fill(pairs, _enabled(page, ("button",))[-1])


EXPERTS: dict[str, Expert] = {
    "click-button": click_quoted,
    "click-link": click_quoted,
    "unicode-test": click_quoted,
    "click-tab": click_tab,
    "click-test": click_the_button,
    "click-test-2": click_named_button,
    "click-test-transfer": click_named_button,
    "click-dialog": click_dialog,
    "click-dialog-2": click_dialog_2,
    "click-option": click_option,
    "click-checkboxes": click_checkboxes,
    "click-checkboxes-large": click_checkboxes,
    "click-checkboxes-transfer": click_checkboxes,
    "choose-list": choose_list,
    "enter-text": enter_text,
    "enter-text-dynamic": enter_text,
    "enter-text-2": enter_text_2,
    "enter-password": enter_password,
    "login-user": login_user,
    "focus-text": focus_text,
    "focus-text-2": focus_text,
    "click-widget": click_widget,
    "copy-paste": copy_paste,
    "copy-paste-2": copy_paste,
    "find-word": find_word,
    "read-table": read_table,
    "email-inbox-delete": email_delete,
    "email-inbox-important": email_star,
    "social-media": social_media,
    "buy-ticket": buy_ticket,
    "click-collapsible": click_collapsible,
    "click-collapsible-nodelay": click_collapsible,
    "click-collapsible-2": click_collapsible_2,
    "click-collapsible-2-nodelay": click_collapsible_2,
    "simple-arithmetic": simple_arithmetic,
    "simple-algebra": simple_algebra,
    "form-sequence-2": form_sequence_2,
    "form-sequence-3": form_sequence_3,
    "scroll-text": scroll_text,
    "text-transform": text_transform,
    "use-spinner": use_spinner,
    "multi-orderings": multi_form,
    "multi-layouts": multi_form,
}
"""MiniWoB task name -> its scripted expert."""
