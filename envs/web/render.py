"""HTML to agent-readable text: the one rendering that every backend uses.

:func:`render_page` is a pure function of the served HTML, the page URL and the current values of the
form fields (what the user typed, ticked or selected since the page loaded). The in-process text backend
calls it on the bytes the WSGI application returned; the Chromium backend calls it on the same HTML
with the values it reads back from the DOM, so both give the same observation for the same state.

The text keeps the reading order of the document. Block elements (paragraphs, headings, list items,
table rows, ...) start new lines; headings are prefixed with ``#``, list items with ``-`` (``5.`` in an
ordered list, numbered as a browser numbers it: from ``start``, or an item's ``value``) and table cells
are joined with ``|``. Every interactive element becomes a numbered token, numbered from 1 in document
order::

    [3] link "Next >"
    [4] textbox "Name" value="Ada"
    [5] checkbox "Gift wrap" (checked)
    [6] combobox "Size" value="M" options=["S", "M", "L"]
    [7] button "Buy now" (disabled)

Strings inside tokens are JSON-quoted, so a value holding quotes or newlines stays on one line and is
unambiguous. Each element also records the text beside it on its line (:attr:`Element.context`: a search
result's price, a table row's cells; inside prose, its sentence: :attr:`Element.lead` holds the words before
it) and the nearest line above it that holds no element (:attr:`Element.caption`: a heading, a question),
which command descriptions read.

Labels associated with a control (``<label for>`` or a wrapping ``<label>``) become the control's name
instead of separate text. ``<script>``, ``<style>``, ``<template>``, ``<head>`` content
other than ``<title>``, and elements carrying ``hidden`` or ``aria-hidden="true"`` are not rendered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from typing import Any

from rlft.envs.web.page import Element, Form, Page

CHECKED = "checked"
UNCHECKED = "unchecked"

_WS = re.compile(r"\s+")
_TOKEN = re.compile("\x00(\\d+)\x00")
_MAX_VARIANTS = 1024
"""Field values a :class:`Document` remembers elements for (then it starts over)."""
_LINE_PREFIX = re.compile(r"\A\s*(?:#+|-|\d+\.)(?:\s|\Z)")
_SUBHEADING = re.compile(r"\A\s*#{2,}\s")
"""A heading below the page's title (``## Shipping``): it names the part of the page that follows."""
_SENTENCE_END = re.compile(r"[.!?](?=\s|\Z)|\|")
"""Where a sentence (or a table cell) ends within a line."""
PROSE_WORDS = 3
"""An element stands inside prose when at least this many words of its sentence precede it on its line."""
_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "br",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "ul",
        "legend",
        "caption",
    ]
)
BLOCK_TAGS = _BLOCK_TAGS
"""Tags that start a new line of text (the live backend keeps them when it transcribes a live DOM)."""
_SKIP_TAGS = frozenset(("script", "style", "template", "noscript"))
_TEXT_INPUT_TYPES = frozenset(
    [
        "text",
        "email",
        "password",
        "number",
        "tel",
        "url",
        "date",
        "time",
        "datetime-local",
        "month",
        "week",
        "color",
        "range",
    ]
)
_BUTTON_INPUT_TYPES = frozenset(("submit", "button", "reset", "image"))


def _html_int(text: str | None, default: int) -> int:
    """An integer attribute (``<ol start>``, ``<li value>``) as a browser reads it; ``default`` if none."""
    match = re.match(r"\s*([+-]?\d+)", text or "")
    return int(match.group(1)) if match else default


def quote(text: str) -> str:
    """JSON-quote ``text`` as it appears inside element tokens (one line, unambiguous)."""
    return json.dumps(text, ensure_ascii=False)


class _Control:
    """An interactive element while the document is being parsed."""

    __slots__ = (
        "attrs",
        "dom_id",
        "form",
        "item",
        "label",
        "name_parts",
        "options",
        "role",
        "selected",
        "tag",
    )

    def __init__(self, tag: str, role: str, attrs: dict[str, str], form: int, label: int, item: int) -> None:
        self.tag = tag
        self.item = item  # the number of the ordered-list item it sits in, or 0
        self.role = role
        self.attrs = attrs
        self.form = form
        self.label = label  # index of the wrapping <label>, or -1
        self.dom_id = attrs.get("id", "")
        self.name_parts: list[str] = []
        self.options: list[tuple[str, str, bool]] = []  # (label, value, selected)
        self.selected = -1


class _Parser(HTMLParser):
    """Collects text chunks, controls, labels and forms in one pass."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        # Chunks are text, ("e", control index) or ("l", label index); resolved in _finish.
        self.chunks: list[Any] = []
        self.controls: list[_Control] = []
        self.labels: list[dict[str, Any]] = []  # {"for": str, "parts": [...], "controls": [...]}
        self.label_stack: list[int] = []
        self.forms: list[dict[str, Any]] = []
        self.form = -1
        self.title_parts: list[str] = []
        self.in_title = False
        self.skip_tag = ""
        self.skip_depth = 0
        self.capture: _Control | None = None  # link/button/option/textarea collecting its text
        self.select: _Control | None = None
        self.option: list[str] | None = None
        self.option_attrs: dict[str, str] = {}
        self.row_cells = 0
        self.pre_depth = 0
        # Open lists, innermost last: [number of the next item, number of the current item] for an <ol>
        # (the current one 0 before its first <li>), None for a <ul>.
        self.lists: list[list[int] | None] = []

    # -- parsing ------------------------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        if self.skip_depth:
            if tag == self.skip_tag:
                self.skip_depth += 1
            return
        attrs = {k: ("" if v is None else v) for k, v in attrs_list}
        if tag == "title":
            self.in_title = True
            return
        if tag in _SKIP_TAGS or "hidden" in attrs or attrs.get("aria-hidden") == "true":
            if tag not in ("br", "hr", "img", "input", "meta", "link"):
                self.skip_tag, self.skip_depth = tag, 1
            return
        if tag in _BLOCK_TAGS:
            self.chunks.append("\n")
            if tag == "pre":
                self.pre_depth += 1
            if tag[0] == "h" and len(tag) == 2 and tag[1].isdigit():
                self.chunks.append("#" * int(tag[1]) + " ")
            elif tag == "li":
                self._list_item(attrs)
            elif tag == "tr":
                self.row_cells = 0
            elif tag == "hr":
                self.chunks.append("----\n")
        if tag == "ol":
            self.lists.append([_html_int(attrs.get("start"), 1), 0])
        elif tag == "ul":
            self.lists.append(None)
        if tag in ("td", "th"):
            if self.row_cells:
                self.chunks.append(" | ")
            self.row_cells += 1
        elif tag == "form":
            self.forms.append(
                {
                    "action": attrs.get("action", ""),
                    "method": attrs.get("method", "get").lower(),
                    "hidden": [],
                }
            )
            self.form = len(self.forms) - 1
        elif tag == "label":
            self.labels.append({"for": attrs.get("for", ""), "parts": [], "controls": []})
            self.label_stack.append(len(self.labels) - 1)
            self.chunks.append(("l", len(self.labels) - 1))
        elif tag == "a" and "href" in attrs:
            self._open_capture(tag, "link", attrs)
        elif tag == "button":
            self._open_capture(tag, "button", attrs)
        elif tag == "input":
            self._input(attrs)
        elif tag == "textarea":
            self._open_capture(tag, "textbox", attrs)
        elif tag == "select":
            self.select = self._add_control(tag, "combobox", attrs)
        elif tag == "option" and self.select is not None:
            self._close_option()  # an <option> ends the previous one (its end tag is optional)
            self.option, self.option_attrs = [], attrs
        elif tag == "img" and attrs.get("alt"):
            self._text(attrs["alt"])

    def handle_startendtag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs_list)
        if tag in ("a", "button", "textarea", "select", "label", "form", "option", "title"):
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.skip_depth:
            if tag == self.skip_tag:
                self.skip_depth -= 1
            return
        if tag == "title":
            self.in_title = False
        elif tag in ("a", "button", "textarea") and self.capture is not None and self.capture.tag == tag:
            self.capture = None
        elif tag == "option" and self.option is not None:
            self._close_option()
        elif tag == "select" and self.select is not None:
            if self.option is not None:
                self._close_option()
            self.select = None
        elif tag == "label" and self.label_stack:
            self.label_stack.pop()
        elif tag == "form":
            self.form = -1
        elif tag in ("ol", "ul") and self.lists:
            self.lists.pop()
        if tag in _BLOCK_TAGS:
            self.chunks.append("\n")
            if tag == "pre" and self.pre_depth:
                self.pre_depth -= 1

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if self.in_title:
            self.title_parts.append(data)
        elif self.option is not None:
            self.option.append(data)
        elif self.capture is not None:
            self.capture.name_parts.append(data)
        elif self.select is None:
            # A line break in the source is a space, as in a browser, except inside <pre>.
            self._text(data if self.pre_depth else data.replace("\r", " ").replace("\n", " "))

    # -- helpers ------------------------------------------------------------------------------------
    def _text(self, data: str) -> None:
        if self.label_stack:
            self.labels[self.label_stack[-1]]["parts"].append(data)
        else:
            self.chunks.append(data)

    def _list_item(self, attrs: dict[str, str]) -> None:
        """An ``<li>``: ``- `` in a bulleted list, its number in an ordered one."""
        numbering = self.lists[-1] if self.lists else None
        if numbering is None:
            self.chunks.append("- ")
            return
        numbering[1] = _html_int(attrs.get("value"), numbering[0])
        numbering[0] = numbering[1] + 1
        self.chunks.append(f"{numbering[1]}. ")

    def _add_control(self, tag: str, role: str, attrs: dict[str, str]) -> _Control:
        label = self.label_stack[-1] if self.label_stack else -1
        numbering = self.lists[-1] if self.lists else None
        control = _Control(tag, role, attrs, self.form, label, numbering[1] if numbering else 0)
        self.controls.append(control)
        if label >= 0:
            self.labels[label]["controls"].append(len(self.controls) - 1)
            # Text after the control inside the same label still belongs to the label.
        self.chunks.append(("e", len(self.controls) - 1))
        return control

    def _open_capture(self, tag: str, role: str, attrs: dict[str, str]) -> None:
        control = self._add_control(tag, role, attrs)
        if self.capture is None:
            self.capture = control

    def _input(self, attrs: dict[str, str]) -> None:
        kind = attrs.get("type", "text").lower()
        if kind == "hidden":
            if self.form >= 0 and attrs.get("name"):
                self.forms[self.form]["hidden"].append((attrs["name"], attrs.get("value", "")))
            return
        if kind == "search":
            role = "searchbox"
        elif kind in ("checkbox", "radio"):
            role = kind
        elif kind in _BUTTON_INPUT_TYPES:
            role = "button"
        elif kind in _TEXT_INPUT_TYPES:
            role = "textbox"
        else:
            role = "textbox"
        self._add_control("input", role, attrs)

    def _close_option(self) -> None:
        if self.select is None or self.option is None:
            return
        label = _WS.sub(" ", "".join(self.option)).strip()
        value = self.option_attrs.get("value", label)
        self.select.options.append((label, value, "selected" in self.option_attrs))
        self.option = None


def _control_name(control: _Control, labels: list[dict[str, Any]], label_for: dict[str, str]) -> str:
    attrs = control.attrs
    if attrs.get("aria-label"):
        return attrs["aria-label"]
    if control.label >= 0:
        text = "".join(labels[control.label]["parts"])
        if text.strip():
            return text
    if control.dom_id and control.dom_id in label_for:
        return label_for[control.dom_id]
    if control.role in ("link", "button") and control.tag != "input":
        text = "".join(control.name_parts)
        if text.strip():
            return text
    if control.tag == "input" and control.role == "button":
        return attrs.get("value") or attrs.get("alt") or "Submit"
    return attrs.get("title") or attrs.get("placeholder") or attrs.get("name", "")


def _initial_value(control: _Control) -> str:
    if control.role in ("checkbox", "radio"):
        return CHECKED if "checked" in control.attrs else UNCHECKED
    if control.role == "combobox":
        if not control.options:
            return ""
        chosen = next((o for o in control.options if o[2]), control.options[0])
        return chosen[0]
    if control.tag == "textarea":
        text = "".join(control.name_parts)
        return text[1:] if text.startswith("\n") else text
    if control.role in ("textbox", "searchbox"):
        return control.attrs.get("value", "")
    return ""


def _token(element: Element) -> str:
    password = element.attrs.get("type") == "password"
    parts = [f"[{element.id}] {element.role} {quote(element.name)}"]
    if element.role in ("textbox", "searchbox"):
        value = "*" * len(element.value) if password else element.value
        parts.append(f"value={quote(value)}")
    elif element.role in ("checkbox", "radio"):
        parts.append(f"({element.value})")
    elif element.role == "combobox":
        parts.append(f"value={quote(element.value)}")
        parts.append("options=" + json.dumps(list(element.options), ensure_ascii=False))
    if element.disabled:
        parts.append("(disabled)")
    return " ".join(parts)


@dataclass(frozen=True)
class Document:
    """A parsed HTML document, independent of field values (the expensive half of rendering)."""

    title: str
    lines: tuple[str, ...]
    """Text lines; a line holding elements has ``\\x00N\\x00`` markers where element ``N`` goes."""
    elements: tuple[Element, ...]
    """Elements with their HTML default values."""
    tokens: tuple[str, ...]
    """The token of each element with its default value."""
    forms: tuple[Form, ...]
    variants: dict[tuple[int, str], tuple[Element, str]] = field(
        default_factory=dict, compare=False, repr=False
    )
    """``(element number, value)`` -> that element holding that value and its token, filled by
    :func:`layout_page`: re-laying the document out reuses the same element objects, so whoever keys
    work on an element (descriptions) sees it unchanged."""


def _surroundings(lines: list[str], count: int) -> tuple[list[str], list[str], list[str], list[str]]:
    r"""The :attr:`Element.context`, ``lead``, ``caption`` and ``section`` of ``count`` elements.

    ``lines`` hold ``\x00N\x00`` markers where control ``N`` (from 0) goes; the text between markers is
    independent of field values, so this runs once per document.
    """
    context = [""] * count
    lead = [""] * count
    caption = [""] * count
    section = [""] * count
    above = heading = ""
    for line in lines:
        if "\x00" not in line:
            above = _LINE_PREFIX.sub("", line).strip(" |") or above
            if _SUBHEADING.match(line):
                heading = above
            continue
        # Text, control index, text, ...: control k sits between parts[k - 1] and parts[k + 1].
        parts = _TOKEN.split(line)
        for k in range(1, len(parts), 2):
            index = int(parts[k])
            after = parts[k + 1].strip(" |")
            before = (_LINE_PREFIX.sub("", parts[k - 1]) if k == 1 else parts[k - 1]).strip(" |")
            # The words since the last sentence (or cell) end before the element: in running text they
            # say what a link stands for, where the words after it start the next thought. An element
            # that starts a table cell is not in running text: its row's cells stay its context.
            tail = _SENTENCE_END.split(before)[-1].strip()
            if len(tail.split()) >= PROSE_WORDS and not parts[k - 1].rstrip().endswith("|"):
                end = _SENTENCE_END.search(after)
                lead[index] = tail
                context[index] = after[: end.end()].strip(" |") if end else after
            else:
                context[index] = after or before
            caption[index] = above
            section[index] = heading if heading != above else ""
    return context, lead, caption, section


def parse_html(html: str) -> Document:
    """Parse ``html`` once; :func:`layout_page` then renders it with any field values cheaply."""
    parser = _Parser()
    parser.feed(html)
    parser.close()

    label_for: dict[str, str] = {}
    hidden_labels: set[int] = set()
    dom_ids = {c.dom_id for c in parser.controls if c.dom_id}
    for index, label in enumerate(parser.labels):
        if label["controls"]:
            hidden_labels.add(index)
        elif label["for"] and label["for"] in dom_ids:
            label_for.setdefault(label["for"], "".join(label["parts"]))
            hidden_labels.add(index)

    # Element markers are spliced in after whitespace is collapsed so that values keep their spacing.
    out: list[str] = []
    for chunk in parser.chunks:
        if isinstance(chunk, str):
            out.append(chunk.replace("\x00", ""))
        elif chunk[0] == "e":
            out.append(f" \x00{chunk[1]}\x00 ")
        elif chunk[1] not in hidden_labels:
            out.append(" " + "".join(parser.labels[chunk[1]]["parts"]).replace("\x00", "") + " ")
    lines = []
    for raw in "".join(out).split("\n"):
        line = _WS.sub(" ", raw).strip()
        if line and line not in ("-", "#"):
            lines.append(line)
    context, lead, caption, section = _surroundings(lines, len(parser.controls))
    elements = tuple(
        Element(
            id=number,
            role=control.role,
            name=_WS.sub(" ", _control_name(control, parser.labels, label_for)).strip(),
            value=_initial_value(control),
            options=tuple(o[0] for o in control.options),
            attrs=control.attrs,
            option_values=tuple(o[1] for o in control.options),
            form=control.form,
            disabled="disabled" in control.attrs,
            context=context[number - 1],
            lead=lead[number - 1],
            caption=caption[number - 1],
            section=section[number - 1],
            item=control.item,
        )
        for number, control in enumerate(parser.controls, start=1)
    )
    return Document(
        title=_WS.sub(" ", "".join(parser.title_parts)).strip(),
        lines=tuple(lines),
        elements=elements,
        tokens=tuple(_token(e) for e in elements),
        forms=tuple(Form(f["action"], f["method"], tuple(f["hidden"])) for f in parser.forms),
    )


def layout_page(
    document: Document, url: str, values: Mapping[int, str] | None = None, status: int = 200
) -> Page:
    """Render a parsed document with the current field values (see :func:`render_page`)."""
    elements = list(document.elements)
    tokens = list(document.tokens)
    variants = document.variants
    for number, value in (values or {}).items():
        if 1 <= number <= len(elements) and value != elements[number - 1].value:
            variant = variants.get((number, value))
            if variant is None:
                if len(variants) > _MAX_VARIANTS:
                    variants.clear()
                changed = replace(elements[number - 1], value=value)
                variant = variants[number, value] = (changed, _token(changed))
            elements[number - 1], tokens[number - 1] = variant
    lines = [
        _TOKEN.sub(lambda m: tokens[int(m.group(1))], line) if "\x00" in line else line
        for line in document.lines
    ]
    return Page(
        url=url,
        title=document.title,
        text="\n".join(lines),
        elements=tuple(elements),
        forms=document.forms,
        status=status,
    )


def renumber(document: Document, numbers: Sequence[int]) -> Document:
    """``document`` with its elements numbered ``numbers`` (in document order) instead of 1, 2, ...

    The live backend keeps an element's number while the element exists, so the numbers of a page may
    have gaps; text, tokens and descriptions are laid out exactly as for a served page.

    Raises:
        ValueError: when ``numbers`` does not give one number per element.
    """
    if len(numbers) != len(document.elements):
        raise ValueError(f"{len(numbers)} numbers for {len(document.elements)} elements")
    elements = tuple(replace(e, id=int(n)) for e, n in zip(document.elements, numbers, strict=True))
    return Document(
        document.title, document.lines, elements, tuple(_token(e) for e in elements), document.forms
    )


def render_page(html: str, url: str, values: Mapping[int, str] | None = None, status: int = 200) -> Page:
    """Render ``html`` served at ``url`` into a :class:`~rlft.envs.web.page.Page`.

    Equivalent to ``layout_page(parse_html(html), url, values, status)``; backends that re-render the
    same document with new field values keep the :class:`Document` and call :func:`layout_page`.

    Args:
        html: the document as served.
        url: its path and query on the site's origin (kept verbatim in :attr:`Page.url`).
        values: current field values by element number, overriding the HTML defaults: text for text
            fields, the option label for a combobox, ``"checked"``/``"unchecked"`` for checkboxes and
            radios. Unknown numbers are ignored.
        status: the HTTP status the document was served with.

    Returns:
        The page: text with numbered element tokens, the element table and the forms.

    """
    return layout_page(parse_html(html), url, values, status)
