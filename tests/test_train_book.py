"""The one command that trains every book model, at smoke size on the real MNIST."""

import pytest
import torch

from aae_lib import pretrained
from aae_lib.data import IMAGE_SIZE
from aae_lib.runners import train_book


@pytest.mark.mnist
def test_every_book_model_trains_in_parallel_processes_and_exports(tmp_path, capsys):
    names = ["unsupervised_gmm", "supervised_ncode2", "semisupervised_1000", "clustering_16"]
    train_book.main(
        [
            *names,
            "--device",
            "cpu",
            "--jobs",
            "2",
            "--smoke",
            "--runs",
            str(tmp_path / "runs"),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    table = capsys.readouterr().out
    histories = {}
    for name in names:
        row = next(line for line in table.splitlines() if line.startswith(name))
        assert row.split()[1] == "1" and row.endswith("cpu")
        model, manifest = pretrained.load(name, folder=tmp_path / "out")
        assert manifest["epochs_done"] == 1 and "smoke subset" in manifest["schedule"]
        assert torch.isfinite(model.encode(torch.zeros(1, IMAGE_SIZE))).all()
        # a smoke run with a validation split keeps it, and measures what the full run does
        validated = pretrained.book_config(name).validation
        assert ("reconstruction_error/validation" in manifest["history"]) == validated
        histories[name] = manifest["history"]
    assert "cluster_error/test" in histories["clustering_16"]
    assert "all 4 models, 2 at a time" in table


@pytest.mark.parametrize(
    "argv, message",
    [(["--jobs", "0"], "--jobs: must be at least 1"), (["vae"], "no book model vae; choose from")],
)
def test_bad_arguments_are_one_line(argv, message, capsys):
    with pytest.raises(SystemExit):
        train_book.main(argv)
    assert message in capsys.readouterr().err


def test_a_failed_model_gets_its_row_and_the_others_are_still_summarised(monkeypatch):
    def fake_train(name, *args):
        if name == "vae_gmm":
            raise RuntimeError("disk full\nsecond line of a long message")
        return {
            "name": name,
            "epochs": 3,
            "seconds": 12.0,
            "trained_epochs_per_second": 0.25,
            "device": "cpu",
        }

    monkeypatch.setattr(train_book, "_train_one", fake_train)
    names = ["unsupervised_gmm", "vae_gmm", "supervised_ncode2"]
    rows = [train_book.train_one(name, "cpu", None, None, None, False) for name in names]
    table = train_book.report(rows, total_seconds=40.0, jobs=2).splitlines()
    assert table[2].split() == ["vae_gmm", "failed:", "RuntimeError:", "disk", "full"]
    assert table[1].split()[:2] == ["unsupervised_gmm", "3"]
    assert table[3].split()[:2] == ["supervised_ncode2", "3"]
    assert table[-1] == "all 3 models, 2 at a time: 40 s; 1 failed"
