"""The website as a reader sees it: every page opened in headless Chromium from a local server.

The site is built once per session with warnings as errors (or taken from ``AAE_SITE_DIR``),
served on 127.0.0.1, and each page must load without failed requests, without any request to
another host, without console errors, with all images decoded and all math typeset; every
latent explorer must change its digit when a slider moves, with no kernel behind the page.
Screenshots of every page are kept in pytest's temporary folder.

Chromium comes from conftest's ``browser`` fixture, which test_jupyterlab.py shares.
"""

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

pytestmark = pytest.mark.site

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
# Schemes that never leave the page: inline images and anywidget's in-memory modules.
LOCAL_SCHEMES = {"data", "blob", "about"}
WIDGET_TIMEOUT_MS = 20_000


@pytest.fixture(scope="session")
def site_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built site: ``AAE_SITE_DIR`` if set, else a fresh `jupyter-book build -W`."""
    if given := os.environ.get("AAE_SITE_DIR"):
        site = Path(given)
        assert (site / "intro.html").is_file(), f"AAE_SITE_DIR={given} holds no built book"
        return site
    if not (ROOT / "book" / "_static_js" / "js" / "require.js").is_file():
        pytest.fail("the web assets are missing: run python tools/fetch_web_assets.py")
    jupyter_book = shutil.which("jupyter-book", path=Path(sys.executable).parent)
    jupyter_book = jupyter_book or shutil.which("jupyter-book")
    if jupyter_book is None:
        pytest.fail("jupyter-book is not installed (the package's book extra)")
    output = tmp_path_factory.mktemp("book")
    build = [jupyter_book, "build", str(ROOT / "book"), "-W", "--path-output", str(output)]
    result = subprocess.run(build, capture_output=True, text=True)
    assert result.returncode == 0, f"book build failed:\n{result.stdout}\n{result.stderr}"
    return output / "_build" / "html"


@pytest.fixture(scope="session")
def base_url(site_dir: Path) -> Iterator[str]:
    """The site served over HTTP, as readers get it (browsers restrict pages from disk)."""

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """Keep the test output free of one line per request."""

    handler = functools.partial(QuietHandler, directory=str(site_dir))
    server = http.server.ThreadingHTTPServer((HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{HOST}:{server.server_port}/"
    server.shutdown()
    server.server_close()


def site_pages(site_dir: Path) -> list[str]:
    """Every HTML page of the book, relative to the site root; index.html only redirects."""
    skip = {"_static", "_sources", "_images", "js"}
    return sorted(
        path.relative_to(site_dir).as_posix()
        for path in site_dir.rglob("*.html")
        if not skip & set(path.relative_to(site_dir).parts) and path.name != "index.html"
    )


def is_local(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in LOCAL_SCHEMES or parsed.hostname == HOST


@dataclass
class PageLog:
    """What a page did while it loaded."""

    requests: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def route(self, route) -> None:
        """Record every request; let local ones through and block the others."""
        self.requests.append(route.request.url)
        if is_local(route.request.url):
            route.continue_()
        else:
            route.abort()

    def response(self, response) -> None:
        if response.status >= 400:
            self.failures.append(f"{response.url}: HTTP {response.status}")

    def console(self, message) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def foreign_requests(self) -> list[str]:
        return [url for url in self.requests if not is_local(url)]


def open_page(browser, url: str):
    """A new page at ``url`` whose requests, failures and errors are logged; requests to
    other hosts are recorded and blocked, so the test never depends on the network."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log = PageLog()
    context.route("**/*", log.route)
    page.on("requestfailed", lambda request: log.failures.append(f"{request.url}: failed"))
    page.on("response", log.response)
    page.on("console", log.console)
    page.on("pageerror", lambda error: log.errors.append(str(error)))
    page.goto(url, wait_until="networkidle")
    return page, log


def wait_for_widgets(page) -> int:
    """Wait until every saved widget view is rendered; return how many there are."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
    if views:
        try:
            page.wait_for_function(
                """count => document.querySelectorAll(".widget-subarea > *").length >= count""",
                arg=views,
                timeout=WIDGET_TIMEOUT_MS,
            )
        except PlaywrightTimeoutError:
            pytest.fail(
                f"{page.url}: {views} widget views did not all render; was the notebook saved "
                "with its widget state (nbclient store_widget_state=True)?"
            )
    return views


def wait_for_math(page) -> int:
    """Wait for MathJax to typeset the page; return how many formulas the page has."""
    formulas = page.locator(".math").count()
    if formulas:
        page.wait_for_function("() => window.MathJax?.startup?.promise !== undefined")
        page.evaluate("() => MathJax.startup.promise")
    return formulas


def undecoded_images(page) -> list[str]:
    return page.evaluate(
        """async () => {
            const images = Array.from(document.images);
            for (const image of images) image.loading = "eager";
            await Promise.all(images.map((image) => image.decode().catch(() => null)));
            return images.filter((image) => image.naturalWidth === 0).map((image) => image.src);
        }"""
    )


def toc_documents(entry: object) -> Iterator[str]:
    """The documents a _toc.yml names, at any depth."""
    if isinstance(entry, dict):
        for key, value in entry.items():
            if key in ("root", "file"):
                yield value
            else:
                yield from toc_documents(value)
    elif isinstance(entry, list):
        for item in entry:
            yield from toc_documents(item)


def test_every_toc_entry_has_a_page(site_dir: Path):
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text(encoding="utf-8"))
    documents = list(toc_documents(toc))
    assert {"intro", "results", "references"} <= set(documents)
    assert [name for name in documents if not (site_dir / f"{name}.html").is_file()] == []


def test_index_redirects_to_the_introduction(browser, base_url: str):
    page, _ = open_page(browser, base_url + "index.html")
    page.wait_for_url("**/intro.html")
    page.context.close()


def test_every_page_loads_cleanly(browser, base_url: str, site_dir: Path, tmp_path: Path):
    problems = []
    for name in site_pages(site_dir):
        page, log = open_page(browser, base_url + name)
        wait_for_widgets(page)
        formulas = wait_for_math(page)
        # Widgets and MathJax fetch fonts and modules as they render.
        page.wait_for_load_state("networkidle")
        typeset = page.locator("mjx-container").count()
        math_errors = page.locator("mjx-merror").count()
        images = undecoded_images(page)
        page.screenshot(path=tmp_path / (name.replace("/", "__") + ".png"), full_page=True)
        page.context.close()
        for kind, found in [
            ("requests to other hosts", log.foreign_requests()),
            ("failed requests", log.failures),
            ("console errors", log.errors),
            ("images not decoded", images),
        ]:
            if found:
                problems.append(f"{name}: {kind}: {found}")
        if typeset < formulas or math_errors:
            problems.append(f"{name}: {formulas} formulas, {typeset} typeset, {math_errors} bad")
    print(f"screenshots in {tmp_path}")
    assert not problems, "\n".join(problems)


def test_math_is_typeset_on_the_introduction(browser, base_url: str):
    page, _ = open_page(browser, base_url + "intro.html")
    assert wait_for_math(page) >= 1
    assert page.locator("mjx-container").count() >= 1
    page.context.close()


# A drawn digit is opaque; an empty canvas is transparent.
DIGIT_DRAWN = "canvas => canvas.getContext('2d').getImageData(0, 0, 1, 1).data[3] === 255"
DIGIT_IMAGE = "canvas => canvas.toDataURL()"


def pages_with_widgets(browser, base_url: str, site_dir: Path) -> Iterator[tuple[str, object]]:
    """Each page holding saved widget state, opened with its widgets rendered; after the caller
    is done with a page, it must have logged no failed request and no console error."""
    for name in site_pages(site_dir):
        if "widget-state+json" not in (site_dir / name).read_text(encoding="utf-8"):
            continue
        page, log = open_page(browser, base_url + name)
        wait_for_widgets(page)
        yield name, page
        page.context.close()
        assert not log.failures + log.errors, f"{name}: {log.failures + log.errors}"


def drawn_canvas(page, widget, selector: str):
    """The widget's canvas, scrolled into view once the widget has drawn on it."""
    widget.scroll_into_view_if_needed()
    canvas = widget.locator(selector)
    page.wait_for_function(DIGIT_DRAWN, arg=canvas.element_handle(), timeout=WIDGET_TIMEOUT_MS)
    return canvas


def test_explorer_sliders_change_the_digit(browser, base_url: str, site_dir: Path, tmp_path):
    explorers_seen = 0
    for name, page in pages_with_widgets(browser, base_url, site_dir):
        explorers = page.locator(".aae-explorer")
        for index in range(explorers.count()):
            explorer = explorers.nth(index)
            digit = drawn_canvas(page, explorer, "canvas.aae-digit")
            shown = digit.evaluate(DIGIT_IMAGE)
            for slider_index, value in enumerate(("max", "min")):
                slider = explorer.locator("input[type=range]").nth(slider_index)
                slider.fill(slider.get_attribute(value))
                moved = digit.evaluate(DIGIT_IMAGE)
                assert moved != shown, (
                    f"{name}: explorer {index}: moving slider {slider_index + 1} to its "
                    f"{value} left the digit unchanged"
                )
                shown = moved
            explorer.screenshot(path=tmp_path / f"{name.replace('/', '__')}-{index}.png")
            explorers_seen += 1
    if not explorers_seen:
        pytest.skip("no page of the book holds a latent explorer yet")


def test_training_replay_slider_changes_the_codes_shown(
    browser, base_url: str, site_dir: Path, tmp_path
):
    replays_seen = 0
    for name, page in pages_with_widgets(browser, base_url, site_dir):
        replays = page.locator(".aae-replay")
        for index in range(replays.count()):
            replay = replays.nth(index)
            canvas = drawn_canvas(page, replay, "canvas.aae-replay-scatter")
            last_epoch = canvas.evaluate(DIGIT_IMAGE)
            slider = replay.locator("input[type=range]")
            slider.fill(slider.get_attribute("min"))
            assert canvas.evaluate(DIGIT_IMAGE) != last_epoch, (
                f"{name}: replay {index}: moving the epoch slider left the codes unchanged"
            )
            replay.screenshot(path=tmp_path / f"{name.replace('/', '__')}-replay-{index}.png")
            replays_seen += 1
    if os.environ.get("CI") == "true":
        assert replays_seen, "no page of the book holds a training replay"
    elif not replays_seen:
        pytest.skip("no page of the book holds a training replay yet")


def solution_cells(notebook: Path) -> tuple[int, int]:
    """How many code and written solutions (nbgrader's solution cells) a chapter holds."""
    import nbformat

    cells = [
        c
        for c in nbformat.read(notebook, as_version=4).cells
        if c.metadata.get("nbgrader", {}).get("solution")
    ]
    return (
        sum(c.cell_type == "code" for c in cells),
        sum(c.cell_type == "markdown" for c in cells),
    )


def test_solutions_stay_hidden_until_the_reader_opens_them(browser, base_url: str):
    """Code, outputs and written answers of every solution are collapsed; opening shows them."""
    checked = 0
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        code, written = solution_cells(notebook)
        page, _ = open_page(browser, f"{base_url}notebooks/{notebook.stem}.html")
        hidden_cells = page.locator(".cell.tag_hide-cell")
        assert hidden_cells.count() >= code, f"{notebook.stem}: a code solution is not hidden"
        for index in range(hidden_cells.count()):
            cell = hidden_cells.nth(index)
            content = cell.locator(".cell_input, .cell_output")
            assert not any(content.nth(i).is_visible() for i in range(content.count())), (
                f"{notebook.stem}: hidden cell {index} shows its code or output"
            )
            cell.locator("summary").first.click()
            assert content.first.is_visible(), f"{notebook.stem}: cell {index} does not open"
        answers = page.locator("details:has(> summary:text-matches('Answer|Discussion'))")
        assert answers.count() >= written, f"{notebook.stem}: a written answer is not hidden"
        for index in range(answers.count()):
            answer = answers.nth(index)
            assert answer.get_attribute("open") is None, f"{notebook.stem}: answer {index} open"
            assert not answer.locator("> :not(summary)").first.is_visible()
        checked += code + written
        page.context.close()
    assert checked, "no chapter has a solution to hide"
