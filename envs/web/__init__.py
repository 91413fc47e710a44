"""rlft.envs.web: a text web browser over local, procedurally generated sites.

Layers, bottom-up (a module imports only modules of its own layer or below; nothing imports the env
but the registration, which names it by string)::

    env.py            WebEnv: composes a backend and a task; observation, reward, info, state
      |
    backends/         browsers on a site: text (in-process WSGI), chromium (Playwright), live (Chromium
                      running the page's JavaScript, real input events: MiniWoB++, your own site)
    tasks/            WebTask per site: goals and splits, reward, candidates, expert
      |                 (shop.py, qa.py, forms/ with one module per form family, miniwob.py,
      |                 browser.py: BrowserTask for your own site)
    task.py           Task, Trace, Evaluation and the WebTask base class
      |
    sites/            WSGI apps with server-side state: shop/, wiki*.py, forms/; live.py (sites of
                      live pages: static folders, MiniWoB++'s files, your app), notes.py
    site.py           the Site base class (serve pages, get_state / set_state)
      |
    page.py           Element, Form, Page: what a rendered page is
    commands.py       the command grammar: typed commands, parse_command and format_command
    render.py         HTML -> Page (the one rendering every backend uses)
    viewport.py       the visible lines, scrolling, find, the page's own commands
    image.py          a text page drawn into an RGB frame (rgb_array without a browser)
    wsgi.py           small WSGI helpers for sites (requests, responses, escaping)
"""
