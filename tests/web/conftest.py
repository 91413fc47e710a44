"""Web tests marked ``chromium`` are skipped, with the reason, where no Chromium can be found; ``holder``
keeps one Chromium open for a module of live-page tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rlft.envs.web.backends.browser import find_chromium
from rlft.envs.web.backends.live import LiveBackend
from rlft.envs.web.sites.live import AppSite
from rlft.envs.web.sites.notes import notes_app
from rlft.errors import DependencyError


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    try:
        find_chromium()
    except DependencyError as error:
        skip = pytest.mark.skip(reason=f"needs Chromium: {error}")
        for item in items:
            if item.get_closest_marker("chromium") is not None:
                item.add_marker(skip)


@pytest.fixture(scope="module")
def holder() -> Iterator[LiveBackend]:
    """One live page open for the module: backends share a thread's browser, so envs do not relaunch it."""
    backend = LiveBackend(AppSite(notes_app))
    backend.restart("/")
    yield backend
    backend.close()
