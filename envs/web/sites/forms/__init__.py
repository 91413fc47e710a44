"""The Forms site: serves the pages of a MiniWoB-style form family (:mod:`.site`) with its HTML helpers.

The families themselves (goals, pages, scoring, expert) live in :mod:`rlft.envs.web.tasks.forms`.
Pages are server-rendered HTML with standard form semantics and no JavaScript, so the text and
Chromium backends see the same thing.
"""
