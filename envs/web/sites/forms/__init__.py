"""The Forms site: MiniWoB-style task families (log in, fill forms, pick dates, inbox, checkout, ...).

Each family lives in its own module and subclasses :class:`~rlft.envs.web.sites.forms.base.FormFamily`;
:data:`FAMILIES` maps the family key to it. Pages are server-rendered HTML with standard form semantics
and no JavaScript, so the text and Chromium backends see the same thing.
"""

from rlft.envs.web.sites.forms.site import FAMILIES, GOALS, FormsSite, load_family

__all__ = ["FAMILIES", "GOALS", "FormsSite", "load_family"]
