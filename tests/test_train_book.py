"""The one command that trains every book model, at smoke size on the real MNIST."""

import pytest
import torch

from aae_lib import pretrained
from aae_lib.data import IMAGE_SIZE
from aae_lib.runners import train_book

pytestmark = pytest.mark.mnist


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
