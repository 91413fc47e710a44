"""Write docs/images/label_page.png: the labelling page (rlft label) on a WebShop pair, for the README.

The pairs are made as a person would (expert against random on the train goals, left for a human
rater), the page is served by rlft's own label server and photographed in headless Chromium. Run from
the repository root:

    .venv/bin/python docs/images/make_label_screenshot.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright
from rlft.agents.compare import CompareConfig, run_compare
from rlft.demos.label import LabelServer
from rlft.envs.web.backends.browser import LAUNCH_ARGS, find_chromium

OUT = Path(__file__).resolve().parent / "label_page.png"


def main() -> None:
    """Make three pairs, serve them and save a screenshot of the first."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "pairs"
        config = CompareConfig(env_id="rlft/WebShop-v0", out_dir=str(folder), progress=False, seed=0)
        config.agent, config.agent_b, config.rater, config.pairs = "expert", "random", "human", 3
        run_compare(config)
        with LabelServer(folder).start() as server, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=find_chromium(), args=[*LAUNCH_ARGS])
            page = browser.new_page(viewport={"width": 1400, "height": 860})
            page.goto(server.url)
            page.wait_for_function("document.body.dataset.state === 'ready'")
            page.screenshot(path=str(OUT))
            browser.close()
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
