"""The command line as a reference user types it, on tiny IDX data and a one-epoch budget."""

import subprocess
import sys

import pytest

from aae_lib.cli import main


@pytest.fixture
def run(tiny_mnist_dir, tmp_path, capsys):
    def run(*flags):
        code = main([*flags, "--data-dir", str(tiny_mnist_dir), "--save-dir", str(tmp_path),
                     "--device", "cpu", "--no-progress"])
        out = capsys.readouterr()
        return code, out.out, out.err

    run.save_dir = tmp_path
    return run


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
    assert run("--train", "--label", "--dist_type", "gmm", "--maxepoch", "1",
               "--n_labeled", "20")[0] == 0
    assert run("--generate", "--label", "--dist_type", "gmm", "--n_labeled", "20")[0] == 0
    assert (run.save_dir / "aae_label_gmm_ncode2_labels20" / "generate_im.png").exists()
    assert run("--train_supervised", "--maxepoch", "1")[0] == 0
    assert run("--generate", "--supervise", "--load", "0")[0] == 0
    assert (run.save_dir / "supervised_ncode2" / "sample_style.png").exists()
    code, out, _ = run("--train_semisupervised", "--ncode", "10", "--maxepoch", "1",
                       "--n_labeled", "20", "--recipe", "paper")
    assert code == 0 and "accuracy/test" in out


def test_interrupted_run_resumes(run):
    assert run("--train", "--maxepoch", "1")[0] == 0
    code, out, _ = run("--train", "--maxepoch", "2")
    assert code == 0 and "resuming from epoch 0" in out
    code, out, _ = run("--train", "--maxepoch", "2")
    assert code == 0 and "already trained 2 epochs" in out


def test_resume_with_other_hyperparameters_names_what_differs(run):
    assert run("--train", "--maxepoch", "1")[0] == 0
    code, _, err = run("--train", "--maxepoch", "2", "--bsize", "64")
    assert code == 1 and "batch_size: checkpoint has 128, this run has 64" in err


def test_missing_epoch_is_one_line_naming_what_exists(run):
    assert run("--train", "--maxepoch", "1")[0] == 0
    code, _, err = run("--viz", "--load", "7")
    assert code == 1
    assert err.strip() == (f"aae_lib: error: no checkpoint for epoch 7 in "
                           f"{run.save_dir / 'aae_gaussian_ncode2'} (epochs saved: 0); "
                           "train first with the same flags")


def test_corrupt_data_is_named(run, tiny_mnist_dir):
    (tiny_mnist_dir / "t10k-labels-idx1-ubyte").write_bytes(b"\0" * 28)
    code, _, err = run("--train", "--maxepoch", "1")
    assert code == 1 and "t10k-labels-idx1-ubyte" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("flags, message", [
    (["--viz", "--ncode", "10"], "--viz needs --ncode 2"),
    (["--train", "--dist_type", "uniform"], "argument --dist_type: invalid choice: 'uniform'"),
    (["--ncode", "2"], "nothing to do"),
    (["--train", "--dist_type", "gmm", "--ncode", "3"], "even ncode"),
    (["--train", "--dropout", "0"], "dropout keep probability"),
    (["--train", "--device", "tpu"], "unknown device 'tpu'"),
])
def test_bad_flags_fail_with_one_line(flags, message, tmp_path):
    result = subprocess.run([sys.executable, "-m", "aae_lib", *flags, "--save-dir",
                             str(tmp_path), "--data-dir", str(tmp_path / "none")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr
