"""File helpers shared across the package: atomic writes, SHA-256 digests, JSON records."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import AAEError

CHUNK_BYTES = 1 << 20
PARTIAL_SUFFIX = ".part"  # what an unfinished write is called until it replaces its target


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def read_json(path: str | Path, what: str, error: type[Exception] = AAEError) -> dict:
    """The JSON record at ``path``. A missing or damaged file is one ``error`` naming ``what``
    the file should hold and where it is."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise error(f"{what} {path} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as problem:
        raise error(f"{what} {path} is damaged: {problem}") from None


@contextlib.contextmanager
def atomic_output(target: Path) -> Iterator[BinaryIO]:
    """A temporary file beside `target` that replaces it only if the block completes, so an
    interrupted write never leaves a half-written file under the final name."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # Opened by hand rather than with tempfile so the file gets the usual umask permissions.
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}{PARTIAL_SUFFIX}")
    try:
        with temporary.open("xb") as output:
            yield output
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def check_writable(target: Path) -> None:
    """Fail now, not after the work that produces it, if ``target`` cannot be written: its
    folder is created and a probe file written and removed beside it."""
    from .errors import AAEError

    target = Path(target)
    if target.is_dir():
        raise AAEError(f"cannot write {target}: it is a folder")
    probe = target.with_name(f".{target.name}.{uuid.uuid4().hex}{PARTIAL_SUFFIX}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise AAEError(f"cannot write {target}: {error.strerror or error}") from None
