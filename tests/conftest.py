"""Fixtures shared by the test modules."""

import hashlib
from pathlib import Path

import pytest
import torch


@pytest.fixture
def tiny_mnist_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of tiny MNIST-shaped IDX files (50 train, 20 test 28x28 images, labels 0..9 in
    turn) that `find_mnist`/`load_mnist` accept: `MNIST_SHA256` is patched to their hashes."""
    from aae_lib import data

    directory = tmp_path / "tiny_mnist"
    generator = torch.Generator().manual_seed(0)
    for prefix, count in (("train", 50), ("t10k", 20)):
        images = torch.randint(0, 256, (count, 28, 28), dtype=torch.uint8, generator=generator)
        labels = (torch.arange(count) % 10).to(torch.uint8)
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
