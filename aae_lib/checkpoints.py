"""Checkpoints: state dicts beside a JSON manifest that says what produced them.

A ``.pt`` file holds only tensors and plain containers, so it loads with
``torch.load(weights_only=True)`` in every torch release. Its manifest (same name, ``.json``)
records the config, epoch, metrics, versions and the file's SHA-256, which is checked on load:
a damaged file or one from another configuration is refused with a message saying why.
"""

from __future__ import annotations

import errno
import functools
import io
import json
import platform
import re
import subprocess
from pathlib import Path

import torch

from .errors import CheckpointError
from .files import PARTIAL_SUFFIX, atomic_output, read_json, sha256_of

FORMAT_VERSION = 1
EPOCH_FILE = re.compile(r"^epoch-(\d+)\.pt$")


def versions() -> dict[str, str]:
    from . import __version__

    return {"aae_lib": __version__, "torch": torch.__version__, "python": platform.python_version()}


@functools.cache
def training_code() -> dict | None:
    """The git commit of the code that trains, and whether its tree had uncommitted changes;
    None outside a git clone (an installed package)."""
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:

        def git(*args: str) -> str:
            return subprocess.run(
                ["git", "-C", str(root), *args],
                capture_output=True,
                text=True,
                check=True,
                timeout=10,
            ).stdout.strip()

        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", "aae_lib"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def save(path: str | Path, state: dict, manifest: dict) -> Path:
    """Save ``state`` to ``path`` and its manifest beside it.

    Each file is written atomically, the weights first: a checkpoint counts as complete only
    once its manifest exists (see ``latest_complete``), so an interruption between the two
    files leaves nothing that resume would take. The state is serialised in memory first, so a
    full disk or a dead folder shows up as one ``OSError`` with its cause, not a torch error.
    """
    path = Path(path)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    manifest = {
        "format": FORMAT_VERSION,
        **manifest,
        "versions": versions(),
        "training_code": training_code(),
    }
    try:
        with atomic_output(path) as output:
            output.write(buffer.getbuffer())
        manifest["sha256"] = sha256_of(path)
        with atomic_output(path.with_suffix(".json")) as output:
            output.write((json.dumps(manifest, indent=2) + "\n").encode())
    except OSError as error:
        raise CheckpointError(
            f"could not write checkpoint {path}: {error.strerror or error}"
        ) from None
    return path


def remove(path: str | Path) -> None:
    """Delete a checkpoint, its manifest first, so that it stops counting as complete at once."""
    path = Path(path)
    path.with_suffix(".json").unlink(missing_ok=True)
    path.unlink(missing_ok=True)


def ensure_writable(folder: str | Path) -> None:
    """Fail before training, not after an epoch, if checkpoints cannot be written to ``folder``."""
    folder = Path(folder)
    probe = folder / f".write-probe{PARTIAL_SUFFIX}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        cause = error.strerror or str(error)
        if isinstance(error, FileExistsError) or error.errno == errno.ENOTDIR:
            cause = "a file is in the way of the folder"
        raise CheckpointError(f"cannot write checkpoints to {folder}: {cause}") from None


def read_manifest(path: str | Path) -> dict:
    """The manifest beside the checkpoint ``path`` (the same name, ending in .json)."""
    return read_json(Path(path).with_suffix(".json"), "checkpoint manifest", CheckpointError)


def config_differences(saved: dict, wanted: dict, ignore: tuple[str, ...] = ()) -> list[str]:
    """Human-readable differences between two config dicts, apart from the ``ignore`` keys."""
    keys = sorted((set(saved) | set(wanted)) - set(ignore))
    return [
        f"{key}: checkpoint has {saved.get(key)!r}, this run has {wanted.get(key)!r}"
        for key in keys
        if saved.get(key) != wanted.get(key)
    ]


def load(
    path: str | Path,
    expected: dict[str, dict] | None = None,
    ignore: tuple[str, ...] = (),
    map_location: str | torch.device = "cpu",
    defaults: dict[str, dict] | None = None,
) -> tuple[dict, dict]:
    """Load a checkpoint after checking its hash and that its manifest matches ``expected``.

    ``expected`` maps manifest sections (e.g. ``"model"``) to the dicts they must equal,
    apart from the keys in ``ignore``. A key that a section of ``defaults`` has and the
    manifest lacks takes that default: a setting added to the code after the checkpoint was
    written defaults to the behaviour the code had before, so the run still resumes.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    manifest = read_manifest(path)
    if manifest.get("format") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {manifest.get('format')!r}; "
            f"this aae_lib reads format {FORMAT_VERSION}"
        )
    for section, wanted in (expected or {}).items():
        saved = {**(defaults or {}).get(section, {}), **manifest.get(section, {})}
        differences = config_differences(saved, wanted, ignore)
        if differences:
            what = "model" if section == "model" else "training"
            raise CheckpointError(
                f"{path} was made with another {what} config: " + "; ".join(differences)
            )
    if sha256_of(path) != manifest.get("sha256"):
        raise CheckpointError(
            f"{path} does not match the SHA-256 in its manifest: "
            "the file is damaged or was replaced"
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # noqa: BLE001 - any failure to unpickle means a bad file
        if "unsupported global" in str(error).lower():  # torch refused to run an object
            raise CheckpointError(
                f"{path} holds objects other than tensors, so it was refused "
                "unread: it is not a checkpoint that aae_lib wrote"
            ) from None
        raise CheckpointError(
            f"{path} could not be read ({type(error).__name__}): the file "
            "is damaged or not a checkpoint"
        ) from None
    return state, manifest


def epoch_path(save_dir: str | Path, epoch: int) -> Path:
    return Path(save_dir) / f"epoch-{epoch:04d}.pt"


def saved_epochs(save_dir: str | Path) -> list[int]:
    """Epochs with a complete checkpoint (weights and manifest) in ``save_dir``, ascending."""
    folder = Path(save_dir)
    if not folder.is_dir():
        return []
    found = (EPOCH_FILE.match(p.name) for p in folder.iterdir())
    return sorted(
        int(m.group(1)) for m in found if m and (folder / m.group(0)).with_suffix(".json").is_file()
    )


def latest_complete(save_dir: str | Path) -> int | None:
    """The newest epoch whose checkpoint is complete, or None."""
    epochs = saved_epochs(save_dir)
    return epochs[-1] if epochs else None


def clean_incomplete(save_dir: str | Path) -> list[str]:
    """Remove what interrupted saves left in ``save_dir``; returns one line per removal.

    That is: temporary files of an unfinished write, and weights whose manifest was being
    written when the save was killed. Weights whose manifest is simply absent are left in place
    and reported: they are not used, and whoever deleted the manifest may want them.
    """
    folder = Path(save_dir)
    if not folder.is_dir():
        return []
    messages, interrupted = [], set()
    for leftover in sorted(folder.glob(f".*{PARTIAL_SUFFIX}")):
        match = re.match(r"^\.(epoch-\d+)\.json\.", leftover.name)
        if match:
            interrupted.add(match.group(1) + ".pt")
        leftover.unlink(missing_ok=True)
        messages.append(f"removed {leftover.name}, left by an interrupted save")
    complete = set(saved_epochs(folder))
    for weights in sorted(folder.glob("epoch-*.pt")):
        match = EPOCH_FILE.match(weights.name)
        if not match or int(match.group(1)) in complete:
            continue
        epoch = int(match.group(1))
        older = [e for e in complete if e < epoch]
        fallback = f"epoch {max(older)}" if older else "the start"
        if weights.name in interrupted:
            weights.unlink()
            messages.append(
                f"the checkpoint of epoch {epoch} was interrupted while saving "
                f"and is removed; resuming from {fallback}"
            )
        else:
            messages.append(
                f"{weights} has no manifest beside it (deleted, or its save was "
                f"cut between the two files), so it is not used; resuming from "
                f"{fallback}"
            )
    return messages
