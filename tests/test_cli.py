"""The command line as a reference user types it, on tiny IDX data and a one-epoch budget."""

import contextlib
import errno
import json
import os
import subprocess
import sys

import pytest
import torch

from aae_lib import checkpoints
from aae_lib.book import plots
from aae_lib.cli.reference import config_from_args, divergence_advice, main, parse_flags, run_name
from aae_lib.precision import resolve_precision

pytestmark = pytest.mark.integration  # trains on tiny data


@pytest.fixture
def run(tiny_mnist_dir, tmp_path, capsys):
    """Runs the command line in this process; argparse's own errors count as exit code 2."""

    def run(*flags, save_dir=tmp_path):
        try:
            code = main(
                [
                    *flags,
                    "--data-dir",
                    str(tiny_mnist_dir),
                    "--save-dir",
                    str(save_dir),
                    "--device",
                    "cpu",
                    "--no-progress",
                ]
            )
        except SystemExit as exit:
            code = exit.code
        out = capsys.readouterr()
        return code, out.out, out.err

    run.save_dir = tmp_path
    return run


@pytest.fixture
def refused(run, monkeypatch):
    """Like ``run``, for commands that must fail before MNIST is loaded, let alone trained on."""

    def no_mnist(*args, **kwargs):
        raise AssertionError("MNIST was loaded")

    monkeypatch.setattr("aae_lib.data.load_mnist", no_mnist)
    return run


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_train_then_viz_and_generate_write_the_reference_files(run):
    code, out, _ = run("--train", "--ncode", "2", "--dist_type", "gmm", "--maxepoch", "1")
    assert code == 0 and "examples/s" in out and "cpu" in out
    folder = run.save_dir / "aae_gmm_ncode2"
    assert (folder / "epoch-0000.pt").exists() and (folder / "epoch-0000.json").exists()
    code, out, _ = run("--viz", "--generate", "--ncode", "2", "--dist_type", "gmm", "--load", "0")
    assert code == 0
    expected = ["latent.png", "generate_im.png"] + [f"manifold_{k}.png" for k in range(10)]
    for name in expected:
        assert (folder / name).stat().st_size > 1000, name


def test_gaussian_viz_draws_linear_and_percentile_manifolds(run):
    assert run("--train", "--maxepoch", "1")[0] == 0
    assert run("--viz", "--load", "0")[0] == 0
    folder = run.save_dir / "aae_gaussian_ncode2"
    assert (folder / "manifold.png").exists() and (folder / "manifold_percentile.png").exists()


def test_label_supervised_and_semisupervised_runs(run):
    assert (
        run("--train", "--label", "--dist_type", "gmm", "--maxepoch", "1", "--n_labeled", "20")[0]
        == 0
    )
    assert run("--generate", "--label", "--dist_type", "gmm", "--n_labeled", "20")[0] == 0
    assert (run.save_dir / "aae_label_gmm_ncode2_labels20" / "generate_im.png").exists()
    assert run("--train_supervised", "--maxepoch", "1")[0] == 0
    assert run("--generate", "--supervise", "--load", "0")[0] == 0
    assert (run.save_dir / "supervised_ncode2" / "sample_style.png").exists()
    code, out, _ = run(
        "--train_semisupervised",
        "--ncode",
        "10",
        "--maxepoch",
        "1",
        "--n_labeled",
        "20",
        "--recipe",
        "paper",
    )
    assert code == 0 and "accuracy/test" in out


def test_interrupted_run_resumes(run):
    assert run("--train", "--maxepoch", "1")[0] == 0
    code, out, _ = run("--train", "--maxepoch", "2")
    assert code == 0 and "resuming from epoch 0" in out
    code, out, _ = run("--train", "--maxepoch", "2")
    assert code == 0 and "already trained 2 epochs" in out


def test_another_batch_size_is_another_run_not_a_refused_resume(run):
    assert run("--train", "--maxepoch", "1")[0] == 0
    code, out, err = run("--train", "--maxepoch", "1", "--bsize", "64")
    assert code == 0, err
    assert "resuming" not in out
    assert checkpoints.saved_epochs(run.save_dir / "aae_gaussian_ncode2_bsize64") == [0]


def test_missing_epoch_is_one_line_naming_what_exists(run):
    assert run("--train", "--maxepoch", "1")[0] == 0
    code, _, err = run("--viz", "--load", "7")
    assert code == 1
    assert err.strip() == (
        f"aae_lib: error: no checkpoint for epoch 7 in "
        f"{run.save_dir / 'aae_gaussian_ncode2'} (epochs saved: 0); "
        "train first with the same flags"
    )


def test_corrupt_data_is_named(run, tiny_mnist_dir):
    (tiny_mnist_dir / "t10k-labels-idx1-ubyte").write_bytes(b"\0" * 28)
    code, _, err = run("--train", "--maxepoch", "1")
    assert code == 1 and "t10k-labels-idx1-ubyte" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--viz", "--ncode", "10"], "--viz needs --ncode 2"),
        (["--train", "--dist_type", "uniform"], "argument --dist_type: invalid choice: 'uniform'"),
        (["--ncode", "2"], "nothing to do"),
        (["--train", "--dist_type", "gmm", "--ncode", "3"], "even ncode"),
        (["--train", "--dropout", "0"], "argument --dropout: is a keep probability"),
        (["--train", "--device", "tpu"], "unknown device 'tpu'"),
    ],
)
def test_bad_flags_fail_with_one_line(flags, message, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "aae_lib",
            *flags,
            "--save-dir",
            str(tmp_path),
            "--data-dir",
            str(tmp_path / "none"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr


# ----------------------------------------------------------------------------- bad numbers
@pytest.mark.parametrize(
    "flags, message",
    [
        (["--train", "--lr", "-1"], "argument --lr: must be a finite number > 0, not -1"),
        (["--train", "--lr", "inf"], "argument --lr: must be a finite number > 0, not inf"),
        (
            ["--train", "--lr", "0"],
            "argument --lr: must be a finite number > 0, not 0 (0 would train nothing)",
        ),
        (["--train", "--encw", "nan"], "argument --encw: must be a finite number > 0, not nan"),
        (["--train", "--genw", "-6"], "argument --genw: must be a finite number > 0"),
        (["--train", "--bsize", "0"], "argument --bsize: must be at least 1, not 0"),
        (["--train", "--maxepoch", "0"], "argument --maxepoch: must be at least 1, not 0"),
        (["--train", "--maxepoch", "1.5"], "argument --maxepoch: expected a whole number"),
        (
            ["--train", "--dropout", "2"],
            "argument --dropout: is a keep probability: it must be in (0, 1]",
        ),
        (["--train", "--dropout", "nan"], "argument --dropout: is a keep probability"),
        (["--train", "--ncode", "0"], "argument --ncode: must be at least 1"),
        (["--train", "--seed", "-1"], "argument --seed: must be at least 0"),
        (["--train", "--label", "--n_labeled", "5"], "argument --n_labeled: must be at least 10"),
        (["--train_semisupervised", "--classify_every", "0"], "argument --classify_every"),
        (
            ["--train", "--discriminator_steps", "0"],
            "argument --discriminator_steps: must be at least 1",
        ),
        (["--generate", "--load", "-1"], "argument --load: must be at least 0"),
        (["--train", "--viz_every", "-1"], "argument --viz_every: must be at least 0"),
    ],
)
def test_each_bad_number_is_one_line_naming_its_flag(refused, flags, message):
    code, out, err = refused(*flags)
    assert code == 2 and not out
    assert message in one_line(err)


# ----------------------------------------------------------------------------- conflicts
@pytest.mark.parametrize(
    "flags, message",
    [
        (
            ["--train", "--train_supervised"],
            "argument --train_supervised: not allowed with argument --train",
        ),
        (
            ["--generate", "--supervise", "--label", "--dist_type", "gmm"],
            "--supervise and --label choose different models",
        ),
        (["--train", "--supervise"], "--supervise and --train choose different models"),
        (["--train_semisupervised", "--label"], "--train_semisupervised and --label choose"),
        (
            ["--train_supervised", "--dist_type", "gmm"],
            "--dist_type does not apply to the supervised model",
        ),
        (
            ["--train", "--clsw", "2"],
            "--clsw does not apply to the unsupervised model: only the "
            "semi-supervised model has a classification phase",
        ),
        (["--train", "--label", "--ygenw", "3"], "--ygenw does not apply to the label-conditioned"),
        (["--train_supervised", "--ydisw", "3"], "--ydisw does not apply to the supervised model"),
        (["--train", "--n_labeled", "20"], "--n_labeled does not apply to the unsupervised model"),
        (
            ["--train_supervised", "--n_labeled", "20"],
            "--n_labeled does not apply to the supervised model",
        ),
        (["--train", "--recipe", "paper"], "--recipe does not apply to the unsupervised model"),
        (["--train", "--classify_every", "10"], "--classify_every does not apply"),
        (
            ["--train_semisupervised", "--recipe", "paper", "--lr", "0.1"],
            "--lr does not apply to --recipe paper",
        ),
        (["--generate", "--lr", "0.001"], "--lr applies to training"),
        (["--viz", "--maxepoch", "5"], "--maxepoch applies to training"),
        (["--generate", "--viz_every", "5"], "--viz_every applies to training"),
        (["--train", "--load", "0"], "--load applies to --generate and --viz"),
        (
            ["--generate", "--run", "aae_gaussian_ncode2", "--ncode", "2"],
            "--run takes its settings from the run's checkpoint: drop --ncode",
        ),
        (["--train", "--run", "aae_gaussian_ncode2"], "--run names a trained run to look at"),
        (["--label"], "nothing to do"),
    ],
)
def test_conflicts_and_flags_that_do_not_apply_are_errors(refused, flags, message):
    code, out, err = refused(*flags)
    assert code == 2 and not out
    assert message in one_line(err)


def test_paper_recipe_honours_ncode_and_encoder():
    config = config_from_args(
        parse_flags(
            ["--train_semisupervised", "--recipe", "paper", "--ncode", "2", "--encoder", "gaussian"]
        )
    )
    assert config.model.ncode == 2 and config.model.encoder_head == "gaussian"
    assert config.optimizer == "sgd" and config.batch_size == 100
    assert run_name(config) == "semisupervised_ncode2_labels1000_paper_gaussian_encoder"
    assert (
        config_from_args(parse_flags(["--train_semisupervised", "--recipe", "paper"])).model.ncode
        == 10
    )


# ----------------------------------------------------------------------------- the run folder
@pytest.mark.parametrize("save_dir", ["/proc/aae_out", "file"])
def test_unwritable_save_dir_is_one_line_before_any_training(refused, save_dir):
    if save_dir == "file":
        save_dir = refused.save_dir / "in_the_way"
        save_dir.write_text("not a folder")
    code, out, err = refused("--train", "--maxepoch", "1", save_dir=save_dir)
    assert code == 1 and not out
    assert one_line(err).startswith(f"aae_lib: error: cannot write checkpoints to {save_dir}/")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_save_dir_is_one_line_before_any_training(refused):
    folder = refused.save_dir / "read_only"
    folder.mkdir(mode=0o555)
    code, _, err = refused("--train", "--maxepoch", "1", save_dir=folder)
    assert code == 1 and "Permission denied" in one_line(err)


def test_full_disk_during_a_checkpoint_is_one_line(run, monkeypatch):
    @contextlib.contextmanager
    def full_disk(target):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))
        yield

    monkeypatch.setattr(checkpoints, "atomic_output", full_disk)
    code, _, err = run("--train", "--maxepoch", "1")
    assert code == 1
    assert one_line(err) == (
        f"aae_lib: error: could not write checkpoint {run.save_dir}/"
        "aae_gaussian_ncode2/epoch-0000.pt: No space left on device"
    )


def test_full_disk_while_writing_a_figure_is_one_line(run, monkeypatch):
    def full_disk(figure, path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    assert run("--train", "--maxepoch", "1")[0] == 0
    monkeypatch.setattr(plots, "save_figure", full_disk)
    code, _, err = run("--generate")
    assert code == 1 and one_line(err) == (
        f"aae_lib: error: could not write figure {run.save_dir}/aae_gaussian_ncode2/"
        "generate_im.png: No space left on device"
    )


# ----------------------------------------------------------------------------- output
def test_one_line_per_epoch_with_the_metric_even_without_progress_bar(run):
    code, out, _ = run("--train", "--label", "--dist_type", "gmm", "--maxepoch", "2")
    assert code == 0
    epochs = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in epochs] == ["epoch 0/2", "epoch 1/2"]
    assert all("discriminator_z" in line and "component_agreement/test" in line for line in epochs)
    # --precision auto (the default) resolves as on this machine
    resolved = resolve_precision("auto", torch.device("cpu"))
    assert f"trained 2 epochs on cpu ({resolved}) at" in out


def test_figures_every_n_epochs_leave_training_unchanged(run, tmp_path):
    flags = ("--train", "--dist_type", "gmm", "--maxepoch", "2")
    code, out, _ = run(*flags, "--viz_every", "1")
    assert code == 0 and "wrote generate_im_0.png, latent_0.png in" in out
    folder = run.save_dir / "aae_gmm_ncode2"
    for name in ("generate_im_0.png", "latent_0.png", "generate_im_1.png", "latent_1.png"):
        assert (folder / name).stat().st_size > 1000, name
    assert run(*flags, "--viz_every", "0", save_dir=tmp_path / "plain")[0] == 0
    with_figures = torch.load(folder / "epoch-0001.pt", weights_only=True)["model"]
    without = torch.load(tmp_path / "plain/aae_gmm_ncode2/epoch-0001.pt", weights_only=True)[
        "model"
    ]
    assert all(torch.equal(with_figures[k], without[k]) for k in without)


def test_help_has_no_markup_and_one_epoch_is_singular(run):
    code, out, _ = run("--help")
    assert code == 0 and "``" not in out and "--viz_every" in out
    code, out, _ = run("--train", "--maxepoch", "1")
    assert "trained 1 epoch on cpu" in out and "1 epochs" not in out


# ----------------------------------------------------------------------------- run names
def test_settings_a_resume_may_not_change_give_distinct_run_names():
    variants = [
        [],
        ["--bsize", "64"],
        ["--noise"],
        ["--dropout", "0.5"],
        ["--encoder", "gaussian"],
        ["--seed", "1"],
        ["--precision", "bf16"],
        ["--discriminator_steps", "5"],
        ["--ncode", "4"],
        ["--dist_type", "gmm"],
        ["--label"],
        ["--label", "--n_labeled", "100"],
        ["--label", "--n_labeled", "all"],
    ]
    names = {run_name(config_from_args(parse_flags(["--train", *flags]))) for flags in variants}
    assert len(names) == len(variants)
    assert (
        run_name(config_from_args(parse_flags(["--train", "--lr", "1e-3"])))
        == "aae_gaussian_ncode2"
    )  # a resume may change the learning rate: same run


def test_finished_run_given_another_lr_says_which_flag_continues_it(run):
    assert run("--train", "--maxepoch", "1")[0] == 0
    code, out, _ = run("--train", "--maxepoch", "1", "--lr", "1e-3")
    assert code == 0
    assert (
        "already trained 1 epoch in" in out
        and "lr: checkpoint has 0.0002, this run has 0.001" in out
        and "raise --maxepoch" in out
    )
    code, out, _ = run("--train", "--maxepoch", "2", "--lr", "1e-3")
    assert code == 0 and "resuming from epoch 0" in out and "this run has 0.001" in out
    manifest = json.loads((run.save_dir / "aae_gaussian_ncode2/epoch-0001.json").read_text())
    assert manifest["resumptions"][0]["epoch"] == 1


def test_divergence_advice_is_a_command_that_works(run):
    code, _, err = run("--train", "--lr", "1000", "--bsize", "10", "--maxepoch", "1")
    assert code == 1
    assert one_line(err).endswith("run the same command with --lr 500")
    assert "training diverged" in err
    assert not checkpoints.saved_epochs(run.save_dir / "aae_gaussian_ncode2_bsize10")
    paper = config_from_args(parse_flags(["--train_semisupervised", "--recipe", "paper"]))
    advice = divergence_advice(paper)
    assert advice == (
        "run the same command with --encw 0.5 --genw 3 --disw 3 --clsw 0.5 "
        "--ygenw 3 --ydisw 3 to halve every phase's learning rate"
    )
    assert parse_flags(
        [
            "--train_semisupervised",
            "--recipe",
            "paper",
            *advice.split("with ")[1].split(" to ")[0].split(),
        ]
    )


# ----------------------------------------------------------------------------- looking at runs
def test_label_runs_use_the_references_10000_labels_and_are_found_again(run):
    assert config_from_args(parse_flags(["--train", "--label"])).n_labeled == 10_000
    assert (
        config_from_args(parse_flags(["--train", "--label", "--n_labeled", "all"])).n_labeled
        is None
    )
    assert run("--train", "--label", "--dist_type", "gmm", "--maxepoch", "1")[0] == 0
    code, out, _ = run("--generate", "--label", "--dist_type", "gmm")
    assert code == 0 and "aae_label_gmm_ncode2_labels10000" in out


def test_semisupervised_run_is_looked_at_by_name_without_training(run):
    assert (
        run("--train_semisupervised", "--recipe", "paper", "--n_labeled", "20", "--maxepoch", "1")[
            0
        ]
        == 0
    )
    name = "semisupervised_ncode10_labels20_paper"
    code, _, err = run("--generate", "--ncode", "10")
    assert code == 1 and one_line(err) == (
        f"aae_lib: error: no trained run aae_gaussian_ncode10 in {run.save_dir}; runs there: "
        f"{name} (look at one with --run NAME); train it first with the same flags"
    )
    code, out, _ = run("--generate", "--viz", "--run", name)
    assert code == 0 and "epoch 0/" not in out and "using epoch 0" in out
    folder = run.save_dir / name
    assert checkpoints.saved_epochs(folder) == [0]
    for figure in ("sample_style.png", "confusion_matrix.png"):
        assert (folder / figure).stat().st_size > 1000, figure


def test_looking_at_a_missing_run_never_trains(run):
    code, out, err = run("--generate", "--supervise")
    assert code == 1 and not out
    assert "no trained run supervised_ncode2" in one_line(err)
    assert not (run.save_dir / "supervised_ncode2").exists()
