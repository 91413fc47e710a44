"""MiniWoB-style form task families (log in, fill forms, pick dates, inbox, checkout, ...).

Each family lives in its own module and subclasses :class:`~rlft.envs.web.tasks.forms.base.FormFamily`;
:data:`FAMILIES` maps the family key (the env's ``family=`` kwarg) to it, imported on first use.
:class:`~rlft.envs.web.tasks.forms.task.FormTask` turns a family into a web task served by
:class:`~rlft.envs.web.sites.forms.site.FormsSite`.
"""

from __future__ import annotations

from typing import Any

from rlft.errors import LazyRegistry

_MODULE = "rlft.envs.web.tasks.forms"

FAMILIES: LazyRegistry[Any] = LazyRegistry(
    "form family",
    {
        key: f"{_MODULE}.{key}:{cls}"
        for key, cls in (
            ("login", "LoginFamily"),
            ("contact", "ContactFamily"),
            ("dropdown", "DropdownFamily"),
            ("checkboxes", "CheckboxesFamily"),
            ("date", "DateFamily"),
            ("tabs", "TabsFamily"),
            ("search", "SearchFamily"),
            ("inbox", "InboxFamily"),
            ("checkout", "CheckoutFamily"),
            ("password", "PasswordFamily"),
            ("table", "TableFamily"),
            ("survey", "SurveyFamily"),
            ("menu", "MenuFamily"),
            ("flight", "FlightFamily"),
        )
    },
)
"""Family key -> ``module:Class`` of its :class:`~rlft.envs.web.tasks.forms.base.FormFamily`."""
