"""A small notes app whose behaviour lives in JavaScript: the default site of ``rlft/WebBrowser-v0``.

One page (``/``): a form adds a note, each note has a "done" checkbox and a remove button, a status
line counts the notes left. Everything happens in the browser (no request after the page loads), so
only a browser that runs the page's JavaScript can use it. The initial notes come from the URL
(``/?notes=a|b|c``), which makes each episode's start state explicit.
"""

from __future__ import annotations

from collections.abc import Iterable

from rlft.envs.web.wsgi import StartResponse, WSGIEnviron

__all__ = ["NOTES_HTML", "PROBE_JS", "notes_app"]

NOTES_HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Notes</title></head>
<body>
<h1>Notes</h1>
<form id="add"><label for="new">New note</label> <input id="new" placeholder="What needs doing?">
<button type="submit">Add</button></form>
<ul id="notes"></ul>
<p id="status"></p>
<script>
const notes = (new URLSearchParams(location.search).get('notes') || '').split('|').filter(Boolean)
  .map(text => ({text, done: false}));
const list = document.getElementById('notes'), status = document.getElementById('status');
function render() {
  list.replaceChildren(...notes.map((note, index) => {
    const item = document.createElement('li');
    item.dataset.text = note.text;
    const label = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = note.done;
    box.addEventListener('change', () => { note.done = box.checked; render(); });
    label.append(box, ' ' + note.text);
    const remove = document.createElement('button');
    remove.textContent = 'Remove';
    remove.setAttribute('aria-label', 'Remove ' + note.text);
    remove.addEventListener('click', () => { notes.splice(index, 1); render(); });
    item.append(label, ' ', remove);
    return item;
  }));
  const left = notes.filter(note => !note.done).length;
  status.textContent = notes.length ? left + ' of ' + notes.length + ' left' : 'Nothing to do.';
}
document.getElementById('add').addEventListener('submit', event => {
  event.preventDefault();
  const field = document.getElementById('new'), text = field.value.trim();
  if (text) notes.push({text, done: false});
  field.value = '';
  render();
});
render();
</script>
</body></html>
"""

PROBE_JS = """() => Array.from(document.querySelectorAll('#notes li'))
  .map(item => [item.dataset.text, item.querySelector('input').checked])"""
"""The notes as ``[text, done]`` pairs, read from the live page."""


def notes_app(environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
    """Serve the notes page at ``/`` (404 elsewhere)."""
    if environ.get("PATH_INFO", "/") != "/":
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"Not found."]
    body = NOTES_HTML.encode()
    start_response(
        "200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]
