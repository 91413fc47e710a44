"""Write the labelling page's screenshots for the README.

docs/images/label_page.png shows a WebShop pair, docs/images/label_page_tabletop.png a PutBlockInBowl
pair. The pairs are made as a person would (expert against random on the train goals, left for a human
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

OUT = Path(__file__).resolve().parent
SHOTS = {
    "label_page.png": ("rlft/WebShop-v0", {"width": 1400, "height": 860}),
    "label_page_tabletop.png": ("rlft/TabletopPutBlockInBowl-v0", {"width": 1200, "height": 600}),
}


def main() -> None:
    """For each environment: make three pairs, serve them and save a screenshot of the first."""
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=[*LAUNCH_ARGS])
        for name, (env_id, viewport) in SHOTS.items():
            folder = Path(tmp) / name
            config = CompareConfig(env_id=env_id, out_dir=str(folder), progress=False, seed=0)
            config.agent, config.agent_b, config.rater, config.pairs = "expert", "random", "human", 3
            run_compare(config)
            with LabelServer(folder).start() as server:
                page = browser.new_page(viewport=viewport)
                page.goto(server.url)
                # Polled through page.evaluate: wait_for_function falls back to eval, which the page's CSP
                # (no unsafe-eval) refuses.
                ready = (
                    "() => document.body.dataset.state === 'ready'"
                    " && [...document.images].every(i => i.complete)"
                )
                for _ in range(3000):
                    if page.evaluate(ready):
                        break
                    page.wait_for_timeout(20)
                page.screenshot(path=str(OUT / name))
                page.close()
            print(f"wrote {OUT / name}")
        browser.close()


if __name__ == "__main__":
    main()
