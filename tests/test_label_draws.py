import json
from dataclasses import replace

import pytest
import torch

from aae_lib.cli import main as aae
from aae_lib.data import IMAGE_SIZE, MNIST, N_CLASSES
from aae_lib.precision import cpu_model
from aae_lib.recipes import recipe
from aae_lib.runners import label_draws
from aae_lib.runners.export import smoke_run

pytestmark = pytest.mark.integration  # trains on tiny data


def tiny(seed: int):
    """One quick epoch of the 1000-label recipe on synthetic images (100 labels)."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (11_280, IMAGE_SIZE), dtype=torch.uint8, generator=generator)
    labels = torch.arange(11_280) % N_CLASSES
    data = MNIST(images, labels, images[:200], labels[:200])
    config, data = smoke_run(recipe("semisupervised_1000", seed=seed), data)
    return config, data


def test_each_seed_draws_its_own_labels_and_a_finished_draw_is_only_read_back(tmp_path):
    runs = []
    for seed in (1, 2):
        config, data = tiny(seed)
        runs.append(label_draws.train_draw(config, data, 1, tmp_path / str(seed)))
    assert [run["seed"] for run in runs] == [1, 2]
    assert all(len(run["accuracy/test"]) == 1 and run["train_seconds"] > 0 for run in runs)
    assert runs[0]["accuracy/validation"] != runs[1]["accuracy/validation"]
    for run in runs:  # the confusion counts are the final test accuracy's, image by image
        counts = torch.tensor(run["confusion/test"])
        assert counts.sum() == 200 and int(counts.trace()) == round(200 * run["accuracy/test"][-1])
    config, data = tiny(1)
    again = label_draws.train_draw(config, data, 1, tmp_path / "1")
    assert again == runs[0]  # resumed after its last epoch: nothing retrained


def test_the_summary_is_the_final_test_errors_mean_and_spread():
    runs = [
        {"accuracy/test": [0.5, 0.98]},
        {"accuracy/test": [0.2, 0.97]},
        {"accuracy/test": [0.9, 0.99]},
    ]
    summary = label_draws.summarize(runs)
    assert summary["test_error_mean"] == pytest.approx(2.0)
    assert summary["test_error_std"] == pytest.approx(1.0)


def test_the_command_refuses_a_recipe_without_labels_or_validation(capsys):
    with pytest.raises(SystemExit):
        label_draws.main(["clustering_16", "--epochs", "1"])
    assert "invalid choice" in capsys.readouterr().err


def test_the_command_writes_every_draw_and_their_spread(tmp_path, capsys, monkeypatch):
    import aae_lib.data

    _, data = tiny(0)
    monkeypatch.setattr(aae_lib.data, "load_mnist", lambda *args, **kwargs: data)
    out = tmp_path / "draws.json"
    label_draws.main(
        [
            "semisupervised_100",
            "--seeds",
            "3",
            "4",
            "--epochs",
            "1",
            "--runs",
            str(tmp_path),
            "--out",
            str(out),
        ]
    )
    summary = json.loads(out.read_text())
    assert [run["seed"] for run in summary["runs"]] == [3, 4]
    errors = [label_draws.final_test_error(run) for run in summary["runs"]]
    assert summary["test_error_mean"] == pytest.approx(sum(errors) / 2)
    assert "over 2 label draws" in capsys.readouterr().out


def test_a_summary_grows_by_new_seeds_and_keeps_the_draws_it_records(tmp_path, monkeypatch):
    import aae_lib.data

    _, data = tiny(0)
    monkeypatch.setattr(aae_lib.data, "load_mnist", lambda *args, **kwargs: data)
    out = tmp_path / "draws.json"
    label_draws.main(
        [
            "semisupervised_100",
            "--seeds",
            "3",
            "--epochs",
            "1",
            "--runs",
            str(tmp_path / "first"),
            "--out",
            str(out),
        ]
    )
    first = json.loads(out.read_text())["runs"][0]
    assert first["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert first["cpu"] == cpu_model()
    # The first machine's checkpoints are gone: seed 3 is read from the summary, not retrained.
    label_draws.main(
        [
            "semisupervised_100",
            "--seeds",
            "3",
            "4",
            "--epochs",
            "1",
            "--runs",
            str(tmp_path / "second"),
            "--out",
            str(out),
        ]
    )
    summary = json.loads(out.read_text())
    assert summary["runs"][0] == first and summary["runs"][1]["seed"] == 4
    assert not (tmp_path / "second" / "semisupervised_100_seed3").exists()


def test_a_summary_of_another_recipe_or_length_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "draws.json"
    out.write_text(json.dumps({"recipe": "semisupervised_100", "epochs": 61, "runs": []}))
    for argv, message in [
        (["semisupervised_1000", "--epochs", "61"], "holds semisupervised_100 draws of 61 epochs"),
        (["semisupervised_100", "--epochs", "100"], "not semisupervised_100 draws of 100 epochs;"),
        (
            ["semisupervised_100", "--epochs", "61", "--training-seed", "10"],
            "of 61 epochs, each trained from seed 10;",
        ),
    ]:
        assert aae(["draws", *argv, "--out", str(out)]) == 1
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    assert json.loads(out.read_text())["epochs"] == 61


def test_a_training_seed_keeps_each_draws_labels_and_changes_its_start(tmp_path):
    from aae_lib.train import Trainer

    config, data = tiny(2)
    own = Trainer(config, data, progress=False)
    retrained = Trainer(replace(config, seed=10, label_seed=2), data, progress=False)
    assert torch.equal(own.labeled_index, retrained.labeled_index)
    assert torch.equal(own.validation_labels, retrained.validation_labels)
    first_weights = [next(t.model.parameters()) for t in (own, retrained)]
    assert not torch.equal(*first_weights)
    run = label_draws.train_draw(retrained.config, data, 1, tmp_path)
    assert (run["seed"], run["training_seed"]) == (2, 10)


def test_the_committed_model_is_read_as_its_seeds_draw_not_retrained():
    from aae_lib.pretrained import WEIGHTS_DIR

    manifest = json.loads((WEIGHTS_DIR / "semisupervised_all.json").read_text())
    draw = label_draws.committed_draw(
        "semisupervised_all", manifest["seed"], manifest["epochs_done"]
    )
    assert draw["accuracy/test"] == manifest["history"]["accuracy/test"]
    assert label_draws.final_test_error(draw) == pytest.approx(
        100 * (1 - manifest["metrics"]["accuracy/test"])
    )
    assert (
        label_draws.committed_draw(
            "semisupervised_all", manifest["seed"] + 1, manifest["epochs_done"]
        )
        is None
    )
    assert (
        label_draws.committed_draw(
            "semisupervised_all", manifest["seed"], manifest["epochs_done"] + 1
        )
        is None
    )
