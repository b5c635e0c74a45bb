"""The chapters as a student meets them: each notebook opened in a real JupyterLab, in headless
Chromium, and run from the menu (Run > Run All Cells) on the committed weights.

Every code cell must run without a traceback, no rendered Markdown may show raw MyST (JupyterLab
renders CommonMark, so a directive or role that only the book's Sphinx build understands would
reach the student as literal text), and every latent explorer and training replay must answer
its slider, the explorers with a live decode from the kernel.

The notebooks are copied, outputs cleared, into a temporary folder served by its own JupyterLab,
so the repository's files are never touched. A screenshot of each chapter is kept in pytest's
temporary folder. Chromium is the one test_site uses (conftest's ``browser`` fixture).
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from importlib.util import find_spec
from pathlib import Path

import nbformat
import pytest
from test_site import DIGIT_IMAGE, WIDGET_TIMEOUT_MS, drawn_canvas

pytestmark = [pytest.mark.site, pytest.mark.mnist]

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
HOST = "127.0.0.1"
SERVER_START_S = 90
NOTEBOOK_LOAD_MS = 120_000
# Generous: chapter 5's Parzen estimate alone takes about a minute on one busy core.
RUN_ALL_S = 240
SETTLED_S = 2.0
TRACEBACK = "Traceback (most recent call last)"
LIVE_DECODE = "decoded exactly at this code"
# Environment variables that would make the training cells train instead of loading weights.
TRAINING_SWITCHES = ("AAE_RETRAIN", "AAE_SMOKE")


# --- Raw MyST in rendered Markdown -------------------------------------------------------------


class _MarkdownScan(HTMLParser):
    """Collect what a student would see of MyST syntax in JupyterLab's rendered Markdown."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.text = ""
        self.paragraph: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "code":
            # ```{note} renders as a code block whose language is "{note}".
            classes = dict(attrs).get("class") or ""
            if match := re.search(r"language-(\{[^}\s]*\})", classes):
                self.found.append(f"directive fence {match.group(1)}")
            # {cite}`x` renders as the text "{cite}" and then the code "x".
            if match := re.search(r"\{[\w:.-]+\}$", self.text):
                self.found.append(f"role {match.group(0)}")
        if tag == "p":
            self.paragraph = []
        self.text = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "p" and self.paragraph is not None:
            # (label)= above a heading renders as a paragraph of its own.
            if re.fullmatch(r"\s*\([\w.:-]+\)=\s*", "".join(self.paragraph)):
                self.found.append(f"target {''.join(self.paragraph).strip()}")
            self.paragraph = None
        self.text = ""

    def handle_data(self, data: str) -> None:
        self.text += data
        if self.paragraph is not None:
            self.paragraph.append(data)
        for marker in (":::", "```"):
            if marker in data:
                self.found.append(f"fence {marker!r} in {data.strip()[:60]!r}")


def raw_myst(html: str) -> list[str]:
    """The raw MyST that a piece of rendered Markdown shows: colon fences (:::{note}),
    unrendered backtick fences, directive fences rendered as code (```{admonition}), roles
    ({cite}`key`) and targets ((label)=). Empty when the Markdown rendered cleanly."""
    scan = _MarkdownScan()
    scan.feed(html)
    scan.close()
    return scan.found


def test_raw_myst_finds_what_jupyterlab_shows_of_myst():
    # What JupyterLab 4 renders for MyST-only syntax (seen in its DOM).
    shown = {
        ":::{note}": '<p style="">:::{note}\nA colon note\n:::</p>',
        "```{admonition}": '<pre><code class="language-{admonition} Title">Body</code></pre>',
        "{cite}": "<p>See {cite}<code>paper2016</code> and more.</p>",
        "(label)=": '<p>(my-label)=</p>\n<h1 data-jupyter-id="Heading">Heading</h1>',
        "unclosed fence": "<p>```python\nx = 1</p>",
    }
    for name, html in shown.items():
        assert raw_myst(html), f"{name} went unnoticed"
    clean = (
        '<p>Math <mjx-container class="MathJax"><mjx-math></mjx-math></mjx-container> and '
        "<code>torch.cdist(a, b)</code>, a set {1, 2} and (x, y) = (1, 2).</p>"
        '<pre><code class="language-python">def f():\n    return {"a": 1}</code></pre>'
        "<details>\n<summary>Hint</summary>\n<p>hidden <code>code</code></p>\n</details>"
    )
    assert raw_myst(clean) == []


# --- JupyterLab ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def api(base: str, path: str, method: str = "GET") -> object:
    request = urllib.request.Request(base + path, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
    return json.loads(body) if body else None


def cleared_copy(source: Path, folder: Path) -> Path:
    """The notebook without its outputs, execution counts or saved widget state."""
    notebook = nbformat.read(source, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    notebook.metadata.pop("widgets", None)
    target = folder / source.name
    nbformat.write(notebook, target)
    return target


@dataclass
class Lab:
    base: str  # the server's URL
    folder: Path  # the folder it serves


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A JupyterLab serving cleared copies of the notebooks."""
    if find_spec("jupyterlab") is None:
        pytest.fail("jupyterlab is not installed (the package's book extra, through jupyter)")
    folder = tmp_path_factory.mktemp("lab")
    for notebook in NOTEBOOKS:
        cleared_copy(notebook, folder)
    home = tmp_path_factory.mktemp("lab_home")
    env = {key: value for key, value in os.environ.items() if key not in TRAINING_SWITCHES}
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MKL_NUM_THREADS", "1")
    # The student's view of a fresh install: no personal settings, workspaces or config.
    env.update(
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
    )
    port = free_port()
    log_path = home / "jupyterlab.log"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        f"--ServerApp.ip={HOST}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
        f"--ServerApp.root_dir={folder}",
    ]
    base = f"http://{HOST}:{port}"
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited ({server.returncode}):\n{log_path.read_text()}")
            try:
                api(base, "/api/status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"JupyterLab did not answer in {SERVER_START_S} s:\n{log_path.read_text()}"
                    )
                time.sleep(0.5)
        yield Lab(base, folder)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def running_kernels(base: str) -> list[dict] | None:
    """The server's kernels, or None while it cannot list them: a kernel that starts or stops
    during the listing can make it fail with HTTP 500 (seen once in CI)."""
    try:
        return api(base, "/api/kernels")
    except urllib.error.HTTPError as error:
        if error.code < 500:
            raise
        return None


def shut_down_kernels(base: str) -> None:
    """End every session and kernel, so chapters never share a kernel or the CPU."""
    for session in api(base, "/api/sessions"):
        api(base, f"/api/sessions/{session['id']}", "DELETE")
    for kernel in api(base, "/api/kernels"):
        api(base, f"/api/kernels/{kernel['id']}", "DELETE")
    deadline = time.monotonic() + 30
    while running_kernels(base) != []:
        assert time.monotonic() < deadline, "a kernel outlived its shutdown by 30 s"
        time.sleep(0.2)


def kernels_idle(base: str) -> bool:
    kernels = running_kernels(base)
    return bool(kernels) and all(kernel["execution_state"] == "idle" for kernel in kernels)


def open_notebook(browser, base: str, name: str):
    """A new browser context on the notebook in JupyterLab (a fresh layout: ?reset), and the
    list that collects the page's uncaught JavaScript errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []

    def page_error(error) -> None:
        # Chromium reports this benign layout notice as an error; it is no fault of the page.
        if "ResizeObserver loop" not in str(error):
            errors.append(str(error))

    page.on("pageerror", page_error)
    page.goto(f"{base}/lab/tree/{name}?reset")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=NOTEBOOK_LOAD_MS)
    return page, errors


def prompts(page) -> list[str]:
    """The code cells' prompts, "[ ]:", "[*]:" or "[7]:"; hidden-input cells show none."""
    texts = page.locator(".jp-CodeCell .jp-InputPrompt").all_text_contents()
    return [text.strip() for text in texts if text.strip()]


def traceback_output(page) -> str | None:
    for text in page.locator(".jp-OutputArea-output").all_text_contents():
        if TRACEBACK in text:
            return text
    return None


def run_all(page, base: str, expected_prompts: int) -> float:
    """Run > Run All Cells, as a student would; wait until every cell has run and the kernel
    has been idle a moment. Fails with the traceback if a cell raised. Returns the seconds."""
    deadline = time.monotonic() + NOTEBOOK_LOAD_MS / 1000
    while not kernels_idle(base):
        assert time.monotonic() < deadline, "the notebook's kernel never became idle"
        time.sleep(0.5)
    started = time.monotonic()
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.locator(".lm-Menu .lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()
    deadline = started + RUN_ALL_S
    idle_since = None
    while True:
        if (text := traceback_output(page)) is not None:
            pytest.fail(f"a cell raised:\n{text}")
        shown = prompts(page)
        finished = len(shown) == expected_prompts and all(
            re.fullmatch(r"\[\d+\]:", prompt) for prompt in shown
        )
        idle = kernels_idle(base)
        now = time.monotonic()
        idle_since = (idle_since or now) if idle else None
        if finished and idle and now - idle_since >= SETTLED_S:
            return now - started
        if now > deadline:
            pytest.fail(f"Run All Cells had not finished after {RUN_ALL_S} s: prompts {shown}")
        time.sleep(0.5)


def changed(page, canvas, before: str) -> str:
    """Wait until the canvas shows something other than ``before``; return what it shows."""
    page.wait_for_function(
        "([canvas, before]) => canvas.toDataURL() !== before",
        arg=[canvas.element_handle(), before],
        timeout=WIDGET_TIMEOUT_MS,
    )
    return canvas.evaluate(DIGIT_IMAGE)


def check_explorer(page, explorer, where: str) -> None:
    """Both sliders, to their ends: the digit changes and the kernel decodes the new code."""
    digit = drawn_canvas(page, explorer, "canvas.aae-digit")
    shown = digit.evaluate(DIGIT_IMAGE)
    source = explorer.locator(".aae-source")
    for slider_index, value in enumerate(("max", "min")):
        slider = explorer.locator("input[type=range]").nth(slider_index)
        slider.fill(slider.get_attribute(value))
        try:
            shown = changed(page, digit, shown)
        except Exception:
            pytest.fail(
                f"{where}: moving slider {slider_index + 1} to its {value} left the digit unchanged"
            )
        try:
            page.wait_for_function(
                "([node, text]) => node.textContent === text",
                arg=[source.element_handle(), LIVE_DECODE],
                timeout=WIDGET_TIMEOUT_MS,
            )
        except Exception:
            pytest.fail(
                f"{where}: the kernel never decoded the code of slider {slider_index + 1}"
                f" (the explorer says {source.text_content()!r})"
            )


def check_replay(page, replay, where: str) -> None:
    canvas = drawn_canvas(page, replay, "canvas.aae-replay-scatter")
    last_epoch = canvas.evaluate(DIGIT_IMAGE)
    slider = replay.locator("input[type=range]")
    slider.fill(slider.get_attribute("min"))
    try:
        changed(page, canvas, last_epoch)
    except Exception:
        pytest.fail(f"{where}: moving the epoch slider left the codes unchanged")


def cells_calling(notebook, name: str) -> int:
    return sum(cell.cell_type == "code" and f"{name}." in cell.source for cell in notebook.cells)


def rendered_markdown(page, cells: int) -> list[tuple[int, str]]:
    """(cell index, HTML) of every piece of rendered Markdown, Markdown cells and Markdown
    outputs, once all ``cells`` Markdown cells are rendered (JupyterLab renders them
    asynchronously)."""
    try:
        page.wait_for_function(
            """count => {
                const cells = document.querySelectorAll(".jp-MarkdownCell .jp-MarkdownOutput");
                return cells.length === count && [...cells].every(cell => cell.childElementCount);
            }""",
            arg=cells,
            timeout=WIDGET_TIMEOUT_MS,
        )
    except Exception:
        shown = page.locator(".jp-MarkdownCell .jp-MarkdownOutput").count()
        pytest.fail(f"{shown} Markdown cells shown of {cells}, or some never rendered")
    return page.evaluate(
        """() => [...document.querySelectorAll(".jp-Notebook .jp-Cell")].flatMap(
            (cell, index) => [...cell.querySelectorAll(".jp-RenderedMarkdown")].map(
                node => [index, node.innerHTML]))"""
    )


def test_raw_myst_is_caught_in_jupyterlab(browser, lab: Lab):
    """The check against JupyterLab's own renderer: each MyST-only cell is flagged, the
    plain Markdown (with the math and <details> the chapters use) is not."""
    myst = [
        ":::{note}\nA note in a colon fence.\n:::",
        "```{admonition} Careful\nAn admonition in a backtick fence.\n```",
        "As the paper shows {cite}`makhzani2016`.",
        "(a-target)=\n## A heading with a MyST target",
    ]
    plain = (
        "Prose with $\\mathbb{E}_{z}\\text{prior}$, `code` and\n\n$$q(z)=p(z)$$\n\n"
        "<details>\n<summary>Hint</summary>\n\n`torch.cdist(a, b)`\n\n</details>"
    )
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell(text) for text in [*myst, plain]]
    nbformat.write(notebook, lab.folder / "raw_myst.ipynb")
    page, _ = open_notebook(browser, lab.base, "raw_myst.ipynb")
    try:
        found = [raw_myst(html) for _, html in rendered_markdown(page, len(notebook.cells))]
    finally:
        page.context.close()
        shut_down_kernels(lab.base)
    assert [bool(items) for items in found] == [True] * len(myst) + [False], found


@pytest.mark.parametrize("source", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_chapter_runs_in_jupyterlab(browser, lab: Lab, source: Path, tmp_path: Path):
    notebook = nbformat.read(source, as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    visible_inputs = sum(
        not cell.metadata.get("jupyter", {}).get("source_hidden") for cell in code_cells
    )
    markdown_cells = sum(cell.cell_type == "markdown" for cell in notebook.cells)
    page, page_errors = open_notebook(browser, lab.base, source.name)
    try:
        seconds = run_all(page, lab.base, visible_inputs)
        print(f"{source.name}: Run All Cells took {seconds:.0f} s")

        raw = [
            f"cell {index}: {found}"
            for index, html in rendered_markdown(page, markdown_cells)
            if (found := raw_myst(html))
        ]
        assert not raw, "raw MyST shown in JupyterLab:\n" + "\n".join(raw)

        for kind, selector, check in (
            ("LatentExplorer", ".aae-explorer", check_explorer),
            ("TrainingReplay", ".aae-replay", check_replay),
        ):
            widgets = page.locator(selector)
            expected = cells_calling(notebook, kind)
            assert widgets.count() == expected, (
                f"{widgets.count()} {kind} widgets shown for {expected} cells that make one"
            )
            for index in range(expected):
                check(page, widgets.nth(index), f"{source.name}: {kind} {index}")
        assert not page_errors, f"errors in the page: {page_errors}"
    finally:
        page.screenshot(path=tmp_path / f"{source.stem}.png")
        print(f"screenshot: {tmp_path / source.stem}.png")
        page.context.close()
        shut_down_kernels(lab.base)
