"""Fixtures shared by the test modules.

Chromium, for the browser tests (test_site, test_jupyterlab), is the one ``AAE_CHROMIUM`` names,
else ``chromium`` on the PATH (Debian's package, see tools/install_chromium.sh); without it those
tests skip, except under CI=true, where they fail.
"""

import hashlib
import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
import torch

from aae_lib.data import IMAGE_SIDE, N_CLASSES

CHROMIUM = os.environ.get("AAE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


TIERS = ("integration", "mnist", "notebooks", "site")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test outside the slower tiers is a unit test: ``pytest -m unit`` (make check)."""
    for item in items:
        if not any(item.get_closest_marker(tier) for tier in TIERS):
            item.add_marker(pytest.mark.unit)


def missing(reason: str) -> NoReturn:
    """Skip for want of a tool on a developer's machine; fail on CI, which must have it."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (required when CI=true)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Chromium driven by Playwright, shared by the browser tests."""
    if not Path(CHROMIUM).is_file():
        missing(f"no Chromium at {CHROMIUM}: apt-get install chromium, or set AAE_CHROMIUM")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("Python playwright is not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Probe results go to a folder of the test session's, not the user's cache."""
    previous = os.environ.get("AAE_CACHE_DIR")
    os.environ["AAE_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if previous is None:
        os.environ.pop("AAE_CACHE_DIR", None)
    else:
        os.environ["AAE_CACHE_DIR"] = previous


@pytest.fixture
def tiny_mnist_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of tiny MNIST-shaped IDX files (50 train, 20 test 28x28 images, labels 0..9 in
    turn) that `find_mnist`/`load_mnist` accept: `MNIST_SHA256` is patched to their hashes."""
    from aae_lib import data

    directory = tmp_path / "tiny_mnist"
    generator = torch.Generator().manual_seed(0)
    for prefix, count in (("train", 50), ("t10k", 20)):
        images = torch.randint(
            0, 256, (count, IMAGE_SIDE, IMAGE_SIDE), dtype=torch.uint8, generator=generator
        )
        labels = (torch.arange(count) % N_CLASSES).to(torch.uint8)
        data.write_idx(directory / f"{prefix}-images-idx3-ubyte", images)
        data.write_idx(directory / f"{prefix}-labels-idx1-ubyte", labels)
    monkeypatch.setattr(
        data,
        "MNIST_SHA256",
        {
            name: hashlib.sha256((directory / name).read_bytes()).hexdigest()
            for name in data.MNIST_SHA256
        },
    )
    return directory


def load_tool(name: str):
    """The module of ``tools/<name>.py``: the tools are scripts, not a package."""
    path = Path(__file__).resolve().parents[1] / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
