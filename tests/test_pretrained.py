import json

import pytest
import torch

from aae_lib import pretrained
from aae_lib.book.notebook import load_or_train
from aae_lib.data import IMAGE_SIZE
from aae_lib.errors import CheckpointError
from aae_lib.runners import export

pytestmark = pytest.mark.integration  # trains on tiny data


@pytest.fixture
def book_data(tiny_mnist_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("AAE_DATA_DIR", str(tiny_mnist_dir))
    monkeypatch.setenv("AAE_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setattr(pretrained, "WEIGHTS_DIR", tmp_path / "committed")
    return tmp_path


def test_smoke_training_exports_int8_weights_that_load(book_data, capsys):
    model, manifest = load_or_train("unsupervised_gmm", "cpu", smoke=True)
    assert "Trained unsupervised_gmm" in capsys.readouterr().out
    path = book_data / "checkpoints" / "smoke" / "unsupervised_gmm.pt"
    saved = torch.load(path, weights_only=True)
    scales = saved.pop(pretrained.INT8_SCALES)
    saved.pop("code_snapshots")
    matrices = {k for k, v in saved.items() if v.ndim == 2}
    assert matrices and set(scales) == matrices
    assert all(saved[k].dtype == torch.int8 for k in matrices)
    assert all(v.dtype == torch.float16 for k, v in saved.items() if k not in matrices)
    assert not any(k.startswith("discriminators") for k in saved)
    assert manifest["dtype"] == "int8" and manifest["schedule"].startswith(
        "1 of the 400-epoch schedule"
    )
    assert manifest["history"]["loss/reconstruction"] and manifest["device"] == "cpu"
    stored, trained = manifest["stored_metrics"], manifest["metrics"]
    error = "reconstruction_error/test"
    assert stored[error] != trained[error] and stored[error] == pytest.approx(
        trained[error], rel=0.01
    )
    assert path.stat().st_size < 4 * 2**20
    assert model.decode(torch.zeros(1, 2)).shape == (1, IMAGE_SIZE)


def test_quantize_keeps_each_row_within_half_a_step():
    weights = {
        "layer.weight": torch.randn(30, 50) * torch.logspace(-3, 1, 30)[:, None],
        "layer.bias": torch.randn(30),
        "steps": torch.tensor(3),
    }
    restored = pretrained.dequantize(pretrained.quantize(weights))
    step = weights["layer.weight"].abs().amax(1, keepdim=True) / 127
    assert ((restored["layer.weight"] - weights["layer.weight"]).abs() <= step / 2 + 1e-9).all()
    assert torch.allclose(restored["layer.bias"], weights["layer.bias"], rtol=1e-3)
    assert restored["steps"] == 3 and pretrained.INT8_SCALES not in restored


def test_committed_weights_are_preferred_and_say_so(book_data, capsys):
    load_or_train("supervised_ncode2", "cpu", smoke=True)
    smoke = book_data / "checkpoints" / "smoke"
    committed = book_data / "committed"
    committed.mkdir()
    for suffix in (".pt", ".json"):
        (committed / f"supervised_ncode2{suffix}").write_bytes(
            (smoke / f"supervised_ncode2{suffix}").read_bytes()
        )
    capsys.readouterr()
    load_or_train("supervised_ncode2", "cpu")
    assert "Loaded the committed weights of supervised_ncode2" in capsys.readouterr().out


def test_weights_of_another_config_are_refused(book_data):
    load_or_train("unsupervised_gmm", "cpu", smoke=True)
    folder = book_data / "checkpoints" / "smoke"
    manifest_path = folder / "unsupervised_gmm.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["model"]["ncode"] = 4
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="ncode: checkpoint has 4, this run has 2"):
        pretrained.load("unsupervised_gmm", folder=folder)


def test_unknown_book_model_lists_the_choices():
    with pytest.raises(KeyError, match="semisupervised_1000"):
        pretrained.book_config("vae")


def test_export_goes_to_the_user_folder_and_keeps_the_book_weights(book_data, capsys):
    committed = book_data / "committed"
    committed.mkdir()
    (committed / "unsupervised_gmm.pt").write_bytes(b"the book's weights")
    export.main(
        ["unsupervised_gmm", "--epochs", "1", "--device", "cpu", "--runs", str(book_data / "runs")]
    )
    assert (committed / "unsupervised_gmm.pt").read_bytes() == b"the book's weights"
    assert (book_data / "checkpoints" / "unsupervised_gmm.pt").exists()
    assert "checkpoints/unsupervised_gmm.pt" in capsys.readouterr().out


def test_replacing_the_book_weights_takes_its_flag(book_data):
    export.main(
        [
            "unsupervised_gmm",
            "--epochs",
            "1",
            "--device",
            "cpu",
            "--runs",
            str(book_data / "runs"),
            "--replace-book-weights",
        ]
    )
    model, _ = pretrained.load("unsupervised_gmm", folder=book_data / "committed")
    assert model.decode(torch.zeros(1, 2)).shape == (1, IMAGE_SIZE)
    with pytest.raises(SystemExit):  # one destination or the other, not both
        export.main(
            ["unsupervised_gmm", "--out", str(book_data / "mine"), "--replace-book-weights"]
        )


def test_training_settings_passed_to_the_training_cell_make_their_own_model(book_data, capsys):
    """Chapter 3's exercise 4: one or five discriminator steps, each a model of its own."""
    names = set()
    for steps in (1, 5):
        _, manifest = load_or_train(
            "supervised_ncode10", "cpu", smoke=True, seed=1, discriminator_steps=steps
        )
        assert manifest["config"]["discriminator_steps"] == steps
        names.add(capsys.readouterr().out.split("Trained ")[1].split(":")[0])
    assert len(names) == 2 and "supervised_ncode10" not in names
