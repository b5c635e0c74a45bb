"""Checkpoints are complete or absent, and every way of being bad is refused in one line."""

import errno
import json
import os

import pytest
import torch

from aae_lib import checkpoints, pretrained
from aae_lib.errors import AAEError, CheckpointError

STATE = {"weights": torch.arange(6.0)}


@pytest.fixture
def saved(tmp_path):
    return checkpoints.save(checkpoints.epoch_path(tmp_path, 3), STATE, {"epoch": 3})


def test_a_saved_checkpoint_loads_back(saved):
    state, manifest = checkpoints.load(saved)
    assert torch.equal(state["weights"], STATE["weights"]) and manifest["epoch"] == 3
    assert checkpoints.saved_epochs(saved.parent) == [3]


def test_weights_without_their_manifest_are_not_a_checkpoint_and_are_cleaned(saved):
    """A kill while writing the manifest of epoch 4, and one during epoch 5's torch.save."""
    orphan = checkpoints.epoch_path(saved.parent, 4)
    orphan.write_bytes(saved.read_bytes())
    (saved.parent / ".epoch-0004.json.89ab.part").write_text('{"format"')
    leftover = saved.parent / ".epoch-0005.pt.0123.part"  # a kill during torch.save
    leftover.write_bytes(b"half")
    assert checkpoints.latest_complete(saved.parent) == 3
    messages = checkpoints.clean_incomplete(saved.parent)
    assert not orphan.exists() and not leftover.exists() and saved.exists()
    assert any("epoch 4 was interrupted" in m and "resuming from epoch 3" in m for m in messages)
    assert any(".epoch-0005.pt.0123.part" in m for m in messages)


def test_missing_manifest_is_refused(saved):
    saved.with_suffix(".json").unlink()
    with pytest.raises(CheckpointError, match="manifest .* is missing"):
        checkpoints.load(saved)


def test_invalid_manifest_is_refused(saved):
    saved.with_suffix(".json").write_text("{not json")
    with pytest.raises(CheckpointError, match="is damaged"):
        checkpoints.load(saved)


def test_another_format_version_is_refused(saved):
    manifest = json.loads(saved.with_suffix(".json").read_text())
    saved.with_suffix(".json").write_text(json.dumps({**manifest, "format": 99}))
    with pytest.raises(CheckpointError, match="format 99; this aae_lib reads format 1"):
        checkpoints.load(saved)


def test_missing_weights_are_refused(saved):
    saved.unlink()
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoints.load(saved)


def test_unreadable_weights_are_refused_even_with_a_matching_hash(saved):
    saved.write_bytes(b"not a torch file")
    manifest = json.loads(saved.with_suffix(".json").read_text())
    manifest["sha256"] = checkpoints.sha256_of(saved)
    saved.with_suffix(".json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="could not be read"):
        checkpoints.load(saved)


class Payload:
    """Stands for code a malicious checkpoint would run when unpickled."""


def test_a_checkpoint_holding_code_is_refused_in_one_line_that_never_advises_unsafe_loading(saved):
    torch.save({"model": Payload()}, saved)
    manifest = json.loads(saved.with_suffix(".json").read_text())
    manifest["sha256"] = checkpoints.sha256_of(saved)
    saved.with_suffix(".json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError) as caught:
        checkpoints.load(saved)
    message = str(caught.value)
    assert str(saved) in message and "\n" not in message
    assert "weights_only" not in message and "refused unread" in message


def test_a_full_disk_is_one_line_naming_the_file_and_leaves_nothing(tmp_path, monkeypatch):
    def full(*_):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)  # the last step of every atomic write
    path = checkpoints.epoch_path(tmp_path, 0)
    with pytest.raises(CheckpointError, match=f"could not write checkpoint {path}: No space"):
        checkpoints.save(path, STATE, {})
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folders_are_refused_before_training(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(CheckpointError, match="cannot write checkpoints to .*a_file"):
        checkpoints.ensure_writable(blocker)
    with pytest.raises(CheckpointError, match="cannot write checkpoints to /proc/aae_out"):
        checkpoints.ensure_writable("/proc/aae_out")
    checkpoints.ensure_writable(tmp_path / "new" / "run")  # creates it
    assert (tmp_path / "new" / "run").is_dir() and not list((tmp_path / "new" / "run").iterdir())


def test_a_missing_or_damaged_result_is_one_line_naming_it(tmp_path, monkeypatch):
    monkeypatch.setattr(pretrained, "RESULTS_DIR", tmp_path)
    with pytest.raises(AAEError, match=r"^result .*absent\.json is missing$"):
        pretrained.read_result("absent")
    (tmp_path / "cut.json").write_text('{"runs": [')
    with pytest.raises(AAEError, match=r"^result .*cut\.json is damaged: ") as refused:
        pretrained.read_result("cut")
    assert "\n" not in str(refused.value)
    (tmp_path / "whole.json").write_text('{"runs": []}')
    assert pretrained.read_result("whole") == {"runs": []}
