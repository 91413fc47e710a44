"""The JavaScript the live backend injects: bookkeeping before the page's scripts, and one snapshot per step.

:data:`INIT_JS` runs before any script of every document (``add_init_script``). It keeps, out of the
page's sight (a non-enumerable ``window.__rlft``): which elements got a click-like listener (by wrapping
``EventTarget.prototype.addEventListener``, so jQuery's and d3's handlers count), when the DOM last
changed (a ``MutationObserver``), how many ``fetch``/``XMLHttpRequest`` calls (and ``fetch`` body reads:
``response.text()`` and the like) are in flight, and which
short ``setTimeout`` callbacks are pending. A response arriving or a timer firing counts as activity, like a
DOM change: the page must then stay quiet for ``quiet`` ms (what the page does with a response, after an
``await``, happens a little later).

:func:`snapshot_js` builds the function evaluated after every action: it waits until the page has
settled (no request in flight, no pending short timer, and no DOM change for ``quiet`` ms; at most
``bound`` ms), then transcribes the *visible* DOM into plain HTML that
:func:`~rlft.envs.web.render.parse_html` renders as it renders any served page: current values written
as attributes (``value``, ``checked``, ``selected``), every control tagged with its stable number
(``data-rlft-id``, given once per element per episode), elements with a click listener transcribed as
buttons named by their visible text, invisible subtrees dropped. It returns ``[href, title, html, probe,
centres]`` where ``probe`` is the site's own probe function's result and ``centres`` maps each control's
number to its centre when that lies in the viewport (the next click moves the pointer there directly).
"""

from __future__ import annotations

import json

from rlft.envs.web.render import BLOCK_TAGS

INIT_JS = """(() => {
  if (window.__rlft) return;
  const now = performance.now.bind(performance);
  const R = {ids: new WeakMap(), byId: new Map(), next: 1, clickable: new WeakSet(), mutated: 0,
             inflight: 0, timers: new Set(), ignore: '', maxTimer: 1000, now};
  const set0 = window.setTimeout, clear0 = window.clearTimeout;
  R.wait = ms => new Promise(done => set0.call(window, done, ms));
  Object.defineProperty(window, '__rlft', {value: R, enumerable: false});
  const CLICKS = new Set(['click', 'mousedown', 'mouseup', 'dblclick', 'pointerdown', 'pointerup']);
  const add = EventTarget.prototype.addEventListener;
  EventTarget.prototype.addEventListener = function (type, listener, options) {
    if (CLICKS.has(type) && this instanceof Element) R.clickable.add(this);
    return add.call(this, type, listener, options);
  };
  const touched = (records) => {
    for (const m of records) {
      const e = m.target.nodeType === 1 ? m.target : m.target.parentElement;
      if (!R.ignore || !e || !e.closest(R.ignore)) { R.mutated = now(); return; }
    }
  };
  new MutationObserver(touched).observe(document,
    {subtree: true, childList: true, attributes: true, characterData: true});
  const fetch0 = window.fetch;
  if (fetch0) window.fetch = function (...args) {
    R.inflight++;
    return fetch0.apply(this, args).finally(() => { R.inflight--; R.mutated = now(); });
  };
  // fetch() resolves with the headers; reading the body is another wait, as long as the transfer takes.
  if (window.Response) for (const name of ['text', 'json', 'arrayBuffer', 'blob', 'formData']) {
    const read0 = Response.prototype[name];
    if (read0) Response.prototype[name] = function (...args) {
      R.inflight++;
      return read0.apply(this, args).finally(() => { R.inflight--; R.mutated = now(); });
    };
  }
  const send0 = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function (...args) {
    R.inflight++;
    add.call(this, 'loadend', () => { R.inflight--; R.mutated = now(); }, {once: true});
    return send0.apply(this, args);
  };
  window.setTimeout = function (callback, delay, ...args) {
    if (typeof callback !== 'function' || !(+delay <= R.maxTimer)) return set0(callback, delay, ...args);
    const id = set0(function () {
      R.timers.delete(id);
      R.mutated = now();  // what the callback starts (a request, an animation) counts as activity
      return callback.apply(this, arguments);
    }, delay, ...args);
    R.timers.add(id);
    return id;
  };
  window.clearTimeout = function (id) { R.timers.delete(id); return clear0(id); };
})();"""

_SNAPSHOT_JS = """async ([quiet, bound, hidden, fresh]) => {
  const R = window.__rlft;
  if (!R) return null;
  R.ignore = hidden;
  R.maxTimer = bound;
  if (fresh) { R.ids = new WeakMap(); R.next = 1; }
  const t0 = R.now();
  for (;;) {
    const t = R.now(), idle = t - R.mutated;
    if ((R.inflight <= 0 && R.timers.size === 0 && idle >= quiet) || t - t0 >= bound) break;
    await R.wait(Math.max(1, Math.min(quiet - idle, 5)));
  }
  const BLOCK = new Set(__BLOCK__);
  const SKIP = new Set(['SCRIPT', 'STYLE', 'TEMPLATE', 'NOSCRIPT', 'HEAD', 'CANVAS', 'IFRAME', 'OBJECT']);
  const ROLES = new Set(['button', 'link', 'tab', 'menuitem', 'option', 'checkbox', 'radio', 'treeitem']);
  const esc = s => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
  const shown = e => e.checkVisibility ? e.checkVisibility({opacityProperty: true, visibilityProperty: true,
    checkOpacity: true, checkVisibilityCSS: true}) : e.getClientRects().length > 0;
  let emitted = 0, loose = 0;
  const centres = {}, width = window.innerWidth, height = window.innerHeight;
  const number = e => {
    emitted++;
    let n = R.ids.get(e);
    if (n === undefined) { n = R.next++; R.ids.set(e, n); }
    R.byId.set(n, e);
    const r = e.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
    if (x >= 0 && y >= 0 && x < width && y < height) centres[n] = [x, y];
    return n;
  };
  const clickable = e => R.clickable.has(e) || typeof e.onclick === 'function'
    || ROLES.has(e.getAttribute('role') || '');
  // An icon without text is named by its title, alt text, or the words of its class names and id ("star",
  // "ui button spinner up", "close email").
  const label = e => (e.getAttribute('aria-label') || (e.innerText || e.textContent || '').trim()
    || e.getAttribute('title') || e.getAttribute('alt')
    || [...new Set(((e.getAttribute('class') || '') + ' ' + e.id).split(/[\\s_-]+/))].join(' ')
    || '').replace(/\\s+/g, ' ').trim().slice(0, 200);
  const attr = (name, value) => value === null || value === undefined || value === '' ? ''
    : ` ${name}="${esc(value)}"`;
  const common = e => ` data-rlft-id="${number(e)}"` + attr('id', e.id) + attr('name', e.getAttribute('name'))
    + attr('placeholder', e.getAttribute('placeholder')) + attr('title', e.getAttribute('title'))
    + attr('aria-label', e.getAttribute('aria-label')) + (e.disabled ? ' disabled' : '');
  R.byId = new Map();
  const out = [];
  const walk = node => {
    for (const child of node.childNodes) {
      if (child.nodeType === 3) { out.push(esc(child.data)); loose += child.data.trim().length; continue; }
      if (child.nodeType !== 1) continue;
      const e = child, tag = e.tagName.toUpperCase(), lower = tag.toLowerCase();
      if (SKIP.has(tag) || (hidden && e.matches(hidden)) || !shown(e)) continue;
      if (tag === 'INPUT') {
        const type = (e.type || 'text').toLowerCase();
        if (type === 'hidden') continue;
        const state = ['checkbox', 'radio'].includes(type) ? (e.checked ? ' checked' : '')
          : attr('value', e.value);
        out.push(`<input type="${esc(type)}"${common(e)}${state}>`);
      } else if (tag === 'TEXTAREA') {
        out.push(`<textarea${common(e)}>\\n${esc(e.value)}</textarea>`);
      } else if (tag === 'SELECT') {
        out.push(`<select${common(e)}>`);
        for (const o of e.options) {
          out.push(`<option value="${esc(o.value)}"${o.selected ? ' selected' : ''}>${esc(o.text)}</option>`);
        }
        out.push('</select>');
      } else if (tag === 'LABEL') {
        out.push(`<label${attr('for', e.htmlFor)}>`); walk(e); out.push('</label>');
      } else if (tag === 'IMG' && !clickable(e)) {
        out.push(esc(e.alt || ''));
      } else if (tag === 'BUTTON' || (tag === 'A' && e.hasAttribute('href'))
                 || (tag !== 'BODY' && clickable(e))) {
        // A leaf (no control inside) becomes one button or link holding its content (its text is no
        // longer loose); a container with text of its own gets its own token, then its content.
        const link = tag === 'A' && e.hasAttribute('href');
        const block = BLOCK.has(lower) || lower === 'td' || lower === 'th';
        const start = out.length, before = emitted, text = loose;
        walk(e);
        const inner = out.splice(start);
        const leaf = emitted === before;
        if (!leaf && tag !== 'BUTTON' && tag !== 'A' && loose === text) {
          // A listener on a container of controls only (a tab bar, a menu): its controls are enough.
          for (const part of inner) out.push(part);
          continue;
        }
        if (leaf) loose = text;
        const name = leaf ? label(e) : label(e).slice(0, 80);
        const open = (link ? `<a href="${esc(e.getAttribute('href'))}"` : '<button') + common(e)
          + ` data-rlft-tag="${lower}" aria-label="${esc(name)}">`;
        const close = link ? '</a>' : '</button>';
        if (leaf) {
          out.push((block ? '<div>' : '') + open);
          for (const part of inner) out.push(part);
          out.push(close + (block ? '</div>' : ''));
        } else {
          out.push('<div>' + open + close + '</div>');
          for (const part of inner) out.push(part);
        }
      } else if (BLOCK.has(lower) || lower === 'td' || lower === 'th') {
        out.push(`<${lower}>`); walk(e); out.push(`</${lower}>`);
      } else {
        walk(e);
      }
    }
  };
  if (document.body) walk(document.body);
  const probe = (__PROBE__)();
  return [location.href, document.title, out.join(''), probe === undefined ? null : probe, centres];
}"""

POINT_JS = """(n) => {
  const e = window.__rlft && window.__rlft.byId.get(n);
  if (!e || !e.isConnected) return null;
  e.scrollIntoView({block: 'center', inline: 'center'});
  const r = e.getBoundingClientRect();
  return [r.left + r.width / 2, r.top + r.height / 2];
}"""
"""The centre of element ``n`` in viewport coordinates after scrolling it into view (``null`` when gone)."""

HIT_JS = """async ([n, bound]) => {
  const R = window.__rlft, e = R && R.byId.get(n);
  if (!e || !e.isConnected) return null;
  const t0 = R.now();
  let scrolled = false;
  for (;;) {
    const r = e.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
    const hit = r.width > 0 && r.height > 0 ? document.elementFromPoint(x, y) : null;
    if ((hit && (hit === e || e.contains(hit))) || R.now() - t0 >= bound) return [x, y];
    if (!scrolled) {
      // Out of view, or clipped by a scrolled container: scroll every ancestor to it, once.
      e.scrollIntoView({block: 'center', inline: 'center'});
      scrolled = true;
      continue;
    }
    await R.wait(5);
  }
}"""
"""Where to press on element ``n`` once the pointer hovers it: its centre, as soon as the element itself
is what that point hits (a hover style may swap its image, a hover menu may cover it; an element
clipped by a scrolled container or out of view is scrolled to, once), at most ``bound`` ms; then the
centre, whatever covers it (the click lands there, as a person's would)."""

HANDLE_JS = "(n) => (window.__rlft && window.__rlft.byId.get(n)) || null"
"""Element ``n`` itself (for element-handle actions)."""

SCROLL_TO_JS = """(fraction) => {
  const range = document.documentElement.scrollHeight - window.innerHeight;
  return Math.max(0, Math.round(range * fraction)) - window.scrollY; }"""
"""How far (pixels) the window must scroll to show ``fraction`` of the page."""


def snapshot_js(probe_js: str) -> str:
    """The snapshot function with the site's probe function (JavaScript source) built in."""
    return _SNAPSHOT_JS.replace("__BLOCK__", json.dumps(sorted(BLOCK_TAGS))).replace("__PROBE__", probe_js)
