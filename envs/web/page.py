"""The page types every layer of the web family shares: what a backend renders and an agent reads.

:class:`Page` is the rendered document (text with numbered interactive elements, the element table
and the forms); :func:`~rlft.envs.web.render.render_page` builds it from HTML. Nothing here knows about
sites, tasks, backends or the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Element:
    """One interactive element of a rendered page, numbered in document order."""

    id: int
    """The number shown in the page text and used by commands (``click[id]``)."""
    role: str
    """``link``, ``button``, ``textbox``, ``checkbox``, ``radio``, ``combobox`` (select), ``searchbox``..."""
    name: str
    """Accessible name: link text, button label, the field's label or placeholder."""
    value: str = ""
    """Current value (text fields, selected option) or state (``checked``/``unchecked``)."""
    options: tuple[str, ...] = ()
    """Option labels of a ``combobox``."""
    attrs: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    """The raw HTML attributes (``href``, ``name``, ``type``, ...) the backend needs to act on it."""
    option_values: tuple[str, ...] = ()
    """The submitted ``value`` of each entry of :attr:`options` (same order)."""
    form: int = -1
    """Index into :attr:`Page.forms` of the form this element belongs to; ``-1`` when none."""
    disabled: bool = False
    """The element carries the HTML ``disabled`` attribute: commands on it are refused."""
    context: str = ""
    """The text beside the element on its rendered line: what follows it up to the next element, else
    what precedes it (a search result's price and rating, a table row's cells). Inside prose (see
    :attr:`lead`) only the rest of the element's sentence."""
    lead: str = ""
    """Inside prose, the start of the element's sentence up to the element (``a 1850 play by`` before a
    link to the playwright): the words that say what a link in running text stands for; ``""`` elsewhere."""
    caption: str = ""
    """The nearest line above the element's line that holds no element: a heading (without its ``#``
    marks), a question, a caption; ``""`` when there is none."""
    section: str = ""
    """The nearest subheading above the element (level 2 or deeper, without its ``#`` marks) when it is
    not already its :attr:`caption`: which part of the page a field under a plain line belongs to (the
    tab ``Tab 3: Yusuf Lopez`` above ``Office: Oslo. Extension: 8002.``). The page's title heading is
    the same for every element and is not a section. ``""`` when there is none."""
    item: int = 0
    """The number of the ordered-list item the element sits in (what a browser shows as ``5.``: a search
    result's rank); 0 outside ordered lists."""


@dataclass(frozen=True)
class Form:
    """A ``<form>`` of a rendered page: where and how it submits, and its hidden fields."""

    action: str
    """The ``action`` attribute as written (resolved against the page URL when submitted)."""
    method: str = "get"
    """``get`` or ``post`` (lower case)."""
    hidden: tuple[tuple[str, str], ...] = ()
    """``(name, value)`` of its ``<input type="hidden">`` fields, in document order."""


@dataclass(frozen=True)
class Page:
    """A page as the agent sees it: text with numbered elements, plus the element table."""

    url: str
    """Path and query on the site's own origin, e.g. ``/search?q=red+shirt``."""
    title: str
    text: str
    """The whole rendered text (the observation shows a viewport of it)."""
    elements: tuple[Element, ...]
    forms: tuple[Form, ...] = ()
    """The page's forms; :attr:`Element.form` indexes this tuple."""
    status: int = 200
    """The HTTP status the page was served with."""

    def element(self, element_id: int) -> Element | None:
        """Return the element numbered ``element_id``, or ``None``.

        Served pages number their elements 1, 2, ... in document order; live pages keep an element's
        number while it exists, so their numbers may have gaps.
        """
        if 1 <= element_id <= len(self.elements):
            element = self.elements[element_id - 1]
            if element.id == element_id:
                return element
        return next((e for e in self.elements if e.id == element_id), None)

    def numbering(self) -> str:
        """How this page's elements are numbered, for error messages (``elements are numbered 1 to 7``)."""
        count = len(self.elements)
        if not count:
            return "this page has no elements"
        if self.elements[-1].id == count:
            return f"elements are numbered 1 to {count}"
        shown = ", ".join(str(e.id) for e in self.elements[:20])
        return f"its elements are numbered {shown}" + (", ..." if count > 20 else "")
