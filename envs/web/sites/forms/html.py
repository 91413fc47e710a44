"""Small HTML builders for the form families: server-rendered markup with standard form semantics.

Every widget is plain HTML (links, ``<form>`` with GET/POST, inputs, selects, checkboxes, radios,
buttons) and there is no JavaScript, so the text backend and a real browser see the same page. Every
field carries a ``<label>`` so its accessible name is meaningful; experts find fields by ``name``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rlft.envs.web.wsgi import esc, url

__all__ = ["esc", "url"]  # re-exported so families import every HTML helper from here


def document(title: str, *body: str) -> str:
    """Return a complete HTML document with ``title`` as both ``<title>`` and heading."""
    inner = "\n".join(part for part in body if part)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title></head>\n'
        f"<body>\n<h1>{esc(title)}</h1>\n{inner}\n</body></html>\n"
    )


def para(text: str) -> str:
    """Return a paragraph of escaped text."""
    return f"<p>{esc(text)}</p>"


def heading(text: str, level: int = 2) -> str:
    """Return a section heading."""
    return f"<h{level}>{esc(text)}</h{level}>"


def errors(messages: Iterable[str]) -> str:
    """Return validation messages, rendered as an alert list (empty string when there are none)."""
    items = "".join(f"<li>{esc(message)}</li>" for message in messages)
    return f'<div role="alert"><p>Please fix the following:</p><ul>{items}</ul></div>' if items else ""


def link(href: str, text: str) -> str:
    """Return an anchor."""
    return f'<a href="{esc(href)}">{esc(text)}</a>'


def nav(links: Sequence[tuple[str, str]], label: str = "Navigation") -> str:
    """Return a list of ``(href, text)`` links."""
    items = "".join(f"<li>{link(href, text)}</li>" for href, text in links)
    return f'<nav aria-label="{esc(label)}"><ul>{items}</ul></nav>'


def form(action: str, *fields: str, method: str = "post") -> str:
    """Return a ``<form>`` around ``fields``; ``method`` is ``get`` or ``post``."""
    inner = "\n".join(field for field in fields if field)
    return f'<form action="{esc(action)}" method="{esc(method)}">\n{inner}\n</form>'


def text_input(name: str, label: str, value: str = "", *, kind: str = "text", placeholder: str = "") -> str:
    """Return a labelled ``<input>`` (``kind`` is its ``type``: text, password, email, tel, search)."""
    hint = f' placeholder="{esc(placeholder)}"' if placeholder else ""
    return (
        f'<p><label for="f-{esc(name)}">{esc(label)}</label> '
        f'<input type="{esc(kind)}" id="f-{esc(name)}" name="{esc(name)}" value="{esc(value)}"{hint}></p>'
    )


def textarea(name: str, label: str, value: str = "") -> str:
    """Return a labelled ``<textarea>``."""
    return (
        f'<p><label for="f-{esc(name)}">{esc(label)}</label> '
        f'<textarea id="f-{esc(name)}" name="{esc(name)}">{esc(value)}</textarea></p>'
    )


def hidden(name: str, value: object) -> str:
    """Return a hidden field carrying state from one step of a form to the next."""
    return f'<input type="hidden" name="{esc(name)}" value="{esc(value)}">'


def select(name: str, label: str, options: Sequence[str], selected: str = "", *, prompt: str = "") -> str:
    """Return a labelled ``<select>``; ``prompt`` adds a first option with an empty value."""
    opts = [f'<option value="">{esc(prompt)}</option>'] if prompt else []
    for option in options:
        mark = " selected" if option == selected else ""
        opts.append(f'<option value="{esc(option)}"{mark}>{esc(option)}</option>')
    return (
        f'<p><label for="f-{esc(name)}">{esc(label)}</label> '
        f'<select id="f-{esc(name)}" name="{esc(name)}">{"".join(opts)}</select></p>'
    )


def checkbox(name: str, value: str, label: str, checked: bool = False, ident: str = "") -> str:
    """Return a labelled checkbox submitting ``name=value`` when ticked."""
    ident = ident or f"c-{name}-{value}"
    mark = " checked" if checked else ""
    return (
        f'<p><input type="checkbox" id="{esc(ident)}" name="{esc(name)}" value="{esc(value)}"{mark}> '
        f'<label for="{esc(ident)}">{esc(label)}</label></p>'
    )


def radio_group(name: str, legend: str, options: Sequence[str], checked: str = "", ident: str = "") -> str:
    """Return a ``<fieldset>`` of labelled radio buttons sharing ``name``."""
    ident = ident or name
    rows = []
    for i, option in enumerate(options):
        rid = f"r-{ident}-{i}"
        mark = " checked" if option == checked else ""
        rows.append(
            f'<p><input type="radio" id="{esc(rid)}" name="{esc(name)}" value="{esc(option)}"{mark}> '
            f'<label for="{esc(rid)}">{esc(option)}</label></p>'
        )
    return f"<fieldset><legend>{esc(legend)}</legend>{''.join(rows)}</fieldset>"


def button(label: str, name: str = "", value: str = "") -> str:
    """Return a submit button; ``name``/``value`` are submitted with the form when it is the one pressed."""
    attrs = f' name="{esc(name)}" value="{esc(value)}"' if name else ""
    return f'<button type="submit"{attrs}>{esc(label)}</button>'


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], caption: str = "") -> str:
    """Return a table; header cells are escaped, row cells are inserted as given (they may hold links)."""
    head = "".join(f"<th>{header}</th>" for header in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
