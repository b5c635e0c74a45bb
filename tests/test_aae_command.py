"""The ``aae`` command as a user types it, in this process on tiny MNIST: every subcommand
validates its numbers and output paths before any work, and every failure is one line."""

import json

import pytest
import torch

from aae_lib import checkpoints
from aae_lib.cli import main

pytestmark = pytest.mark.integration


@pytest.fixture
def aae(tiny_mnist_dir, tmp_path, capsys, monkeypatch):
    """Runs ``aae ARGS`` on tiny MNIST in ``tmp_path``; returns (exit code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AAE_DATA_DIR", str(tiny_mnist_dir))
    monkeypatch.setenv("AAE_CHECKPOINTS", str(tmp_path / "mine"))

    def run(*args):
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def one_line(err: str) -> str:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_train_takes_any_recipe_and_resumes_where_it_stopped(aae, tmp_path):
    code, out, err = aae(
        "train", "vae_gaussian", "--set", "epochs=1", "--device", "cpu", "--no-progress"
    )
    assert code == 0 and "trained 1 epoch on cpu" in out, err
    folder = tmp_path / "aae_out" / "vae_gaussian"
    assert checkpoints.saved_epochs(folder) == [0]
    code, out, _ = aae("train", "vae_gaussian", "--epochs", "2", "--no-progress")
    assert code == 0 and "resuming aae_out/vae_gaussian after epoch 0" in out
    manifest = checkpoints.read_manifest(checkpoints.epoch_path(folder, 1))
    assert manifest["versions"]["aae_lib"] == "0.2.0" and manifest["epochs_done"] == 2
    assert set(manifest["training_code"]) == {"commit", "dirty"}


def test_a_setting_that_makes_another_model_gets_its_own_folder(aae, tmp_path):
    code, out, err = aae(
        "train",
        "unsupervised_gmm",
        "--set",
        "epochs=1",
        "--set",
        "ncode=4",
        "--set",
        "weights.generator_z=3",
        "--set",
        "lr_milestones=",
        "--no-progress",
    )
    assert code == 0, err
    (folder,) = (tmp_path / "aae_out").iterdir()
    assert folder.name.startswith("unsupervised_gmm-")
    config = checkpoints.read_manifest(checkpoints.epoch_path(folder, 0))["config"]
    assert config["model"]["ncode"] == 4 and config["weights"]["generator_z"] == 3
    assert config["lr_milestones"] == []


def test_show_draws_a_runs_figures(aae, tmp_path):
    assert aae("train", "unsupervised_gaussian", "--epochs", "1", "--no-progress")[0] == 0
    code, out, err = aae("show", "unsupervised_gaussian")
    assert code == 0, err
    folder = tmp_path / "aae_out" / "unsupervised_gaussian"
    assert (folder / "generate_im.png").stat().st_size > 0 and (folder / "latent.png").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "vae_gaussian", "--set", "epochs=-1"], "epochs must be at least 1, not -1"),
        (
            ["train", "vae_gaussian", "--set", "ncode=two"],
            "--set ncode: 'two' is not a whole number",
        ),
        (["train", "vae_gaussian", "--set", "colour=red"], "no field 'colour'"),
        (
            ["train", "vae_gaussian", "--set", "pixel_range=bytes"],
            "--set pixel_range: 'bytes' is not one of signed, unit",
        ),
        (["train", "unsupervised_gmm", "--set", "mixture_radius=inf"], "mixture_radius must be a"),
        (["train", "vae_gaussian", "--set", "lr=nan"], "'nan' is not a number"),
        (
            ["train", "vae_gaussian", "--epochs", "0"],
            "argument --epochs: must be at least 1, not 0",
        ),
        (["train", "vae_gaussian", "--set", "ncode=100000000", "--epochs", "1"], "needs about"),
        (["train", "vae_gaussian", "--device", "tpu"], "argument --device: invalid choice"),
        (["train", "no_such_recipe"], "argument RECIPE: invalid choice"),
        (["show", "nowhere"], "no run nowhere"),
        (["control", "--epochs", "-1"], "argument --epochs: must be at least 1, not -1"),
        (["control", "--epochs", "0"], "argument --epochs: must be at least 1, not 0"),
        (["control", "--n-labeled", "5"], "argument --n-labeled: must be at least 10"),
        (["control", "--epochs", "1", "--out", "/proc/x/c.json"], "cannot write /proc/x/c.json"),
        (
            ["draws", "semisupervised_100", "--epochs", "1", "--out", "/proc/x/d.json"],
            "cannot write /proc/x/d.json",
        ),
        (["draws", "semisupervised_100", "--epochs", "1", "--seeds", "x"], "argument --seeds"),
        (["draws", "semisupervised_100", "--epochs", "1", "--device", "tpu"], "--device"),
        (["train-book", "--jobs", "0"], "argument --jobs: must be at least 1"),
        (["train-book", "vae"], "no book model vae"),
        (["train-book", "--device", "tpu"], "argument --device: invalid choice"),
        (["train-book", "vae_gmm", "--runs", "/proc/x"], "cannot write checkpoints to /proc/x"),
        (["export", "vae_gmm", "--out", "/proc/x", "--epochs", "1"], "cannot write /proc/x"),
        (["export", "vae_gmm", "--epochs", "-3"], "argument --epochs: must be at least 1"),
        (["frobnicate"], "no subcommand 'frobnicate'"),
    ],
)
def test_bad_input_is_one_line_before_any_work(aae, args, message, tmp_path):
    code, out, err = aae(*args)
    assert code in (1, 2) and message in one_line(err)
    assert not (tmp_path / "runs").exists() and not (tmp_path / "aae_out").exists()


def test_a_truncated_summary_of_draws_is_one_line(aae, tmp_path):
    out = tmp_path / "draws.json"
    out.write_text('{"recipe": "semisupervised_100", "epo')
    code, _, err = aae("draws", "semisupervised_100", "--epochs", "1", "--out", out)
    assert code == 1 and "is not a summary of label draws" in one_line(err)


def test_ctrl_c_is_one_line_that_says_how_to_resume(aae, monkeypatch):
    from aae_lib.train import Trainer

    def interrupted(self, epochs=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "fit", interrupted)
    for args in (["train", "vae_gaussian"], ["export", "vae_gmm", "--epochs", "1"]):
        code, _, err = aae(*args)
        assert code == 130 and "interrupted: run the same command again to resume" in err
        assert err.strip().count("\n") == 0 and "Traceback" not in err


def test_a_failed_checkpoint_load_names_the_file_in_one_line(aae, tmp_path):
    assert aae("train", "vae_gaussian", "--epochs", "1", "--no-progress")[0] == 0
    weights = checkpoints.epoch_path(tmp_path / "aae_out" / "vae_gaussian", 0)
    weights.write_bytes(b"garbage")
    code, _, err = aae("show", "vae_gaussian")
    assert code == 1 and "aae_out/vae_gaussian/epoch-0000.pt" in one_line(err)
    assert "weights_only" not in err


def test_the_control_writes_each_draw_as_it_finishes(aae, tmp_path, monkeypatch):
    from aae_lib.runners import control

    calls = []

    def fake(config, data, epochs, device, run_dir, precision):
        calls.append(config.seed)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return {
            "accuracy/validation": [0.5],
            "accuracy/test": [0.4],
            "chosen_epoch": 0,
            "test_accuracy": 0.4,
        }

    monkeypatch.setattr(control, "train_classifier_alone", fake)
    monkeypatch.setattr("aae_lib.data.load_mnist", lambda *a, **k: None)
    code, _, _ = aae("control", "--seeds", "0", "1", "--epochs", "1", "--out", "c.json")
    assert code == 130
    summary = json.loads((tmp_path / "c.json").read_text())
    assert [run["seed"] for run in summary["runs"]] == [0]


def test_a_resume_keeps_the_runs_precision_unless_asked_and_records_a_change(
    aae, tmp_path, monkeypatch
):
    from aae_lib import train

    resolved = iter(["fp32", "bf16", "bf16"])
    monkeypatch.setattr(train, "resolve_precision", lambda asked, device: next(resolved))
    assert aae("train", "vae_gaussian", "--epochs", "1", "--no-progress")[0] == 0
    # The next start would resolve auto differently (a busy machine): the run keeps fp32.
    assert aae("train", "vae_gaussian", "--epochs", "2", "--no-progress")[0] == 0
    folder = tmp_path / "aae_out" / "vae_gaussian"
    manifest = checkpoints.read_manifest(checkpoints.epoch_path(folder, 1))
    assert manifest["precision"] == "fp32" and manifest["resumptions"] == []
    code, _, err = aae(
        "train", "vae_gaussian", "--epochs", "3", "--precision", "bf16", "--no-progress"
    )
    assert code == 0, err
    manifest = checkpoints.read_manifest(checkpoints.epoch_path(folder, 2))
    assert manifest["precision"] == "bf16"
    assert manifest["resumptions"] == [
        {"epoch": 2, "changes": ["precision: checkpoint has 'fp32', this run has 'bf16'"]}
    ]


def test_two_fresh_runs_of_one_seed_give_identical_weights_with_a_busy_core_beside(aae, tmp_path):
    import subprocess
    import sys

    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        assert (
            aae("train", "vae_gaussian", "--epochs", "1", "--save-dir", "a", "--no-progress")[0]
            == 0
        )
    finally:
        busy.kill()
        busy.wait()
    assert aae("train", "vae_gaussian", "--epochs", "1", "--save-dir", "b", "--no-progress")[0] == 0
    first, second = (
        torch.load(tmp_path / d / "vae_gaussian" / "epoch-0000.pt", weights_only=True)["model"]
        for d in ("a", "b")
    )
    assert all(torch.equal(first[k], second[k]) for k in first)
    manifests = [
        checkpoints.read_manifest(tmp_path / d / "vae_gaussian" / "epoch-0000.pt")
        for d in ("a", "b")
    ]
    assert manifests[0]["precision"] == manifests[1]["precision"]
