import argparse
import dataclasses
import json

import pytest
import torch

from aae_lib.data import IMAGE_SIZE, find_mnist, load_mnist
from aae_lib.precision import cpu_model
from aae_lib.recipes import categorical, label_conditioned, supervised, unsupervised
from aae_lib.train import TrainConfig, Trainer
from benchmarks import bf16_ceiling, precision_check, profile_ours, train_speed
from benchmarks.baseline import BaselineTrainer, model_kind, torchvision_root

pytestmark = pytest.mark.integration  # trains on tiny data


def test_smoke_run_writes_positive_figures(tiny_mnist_dir, tmp_path, capsys):
    path = tmp_path / "speed.json"
    train_speed.main(
        [
            "--smoke",
            "--device",
            "cpu",
            "--data-dir",
            str(tiny_mnist_dir),
            "--kinds",
            "semisupervised",
            "fig2-gmm",
            "--threads",
            "1",
            "--precisions",
            "fp32",
            "--ours-option",
            "seed=1",
            "--json",
            str(path),
        ]
    )
    report = json.loads(path.read_text())
    assert {"device", "torch", "batch_size", "steps", "repeats", "kinds"} <= report.keys()
    assert report["ours_options"] == {"seed": 1}
    assert report["machine"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert report["machine"]["threads"] == 1
    assert report["peak_gflops"]["fp32"] > 0
    row = report["kinds"]["semisupervised"]
    assert set(row) == {"ours-fp32", "baseline"}
    assert row["ours-fp32"]["speed_ratio"] > 0 and row["ours-fp32"]["memory_ratio"] > 0
    for side in row.values():
        assert side["examples_per_second"] > 0 and side["epoch_seconds"] > 0
        assert side["peak_memory_bytes"] > 0
        assert side["matmul_gflop_per_step"] > 0 and side["efficiency"] > 0
    # The machine is named beside every number: on each row and in the Fig 2 summary.
    tag = train_speed.machine_tag(report["machine"])
    out = capsys.readouterr().out
    rows = [
        line
        for line in out.splitlines()
        if line.startswith(("semisupervised", "fig2-gmm", "  ours", "  baseline"))
    ]
    assert len(rows) == 6 and all(tag in line for line in rows)
    assert "Fig 2 (mixture prior" in out


@pytest.mark.parametrize("native", [True, False])
def test_bf16_gets_an_efficiency_only_where_it_is_native(native):
    run = {
        "examples_per_second": 100.0,
        "peak_memory_bytes": 1,
        "gflops": 4.8,
        "matmul_flops_per_example": 1e7,
    }
    peaks = train_speed.efficiency_peaks({"fp32": 88.0, "bf16": 3.0}, native)
    row = train_speed.compare({"ours-bf16": [run], "baseline": [run]}, peaks)
    assert row["baseline"]["efficiency"] == pytest.approx(4.8 / 88)
    assert (row["ours-bf16"]["efficiency"] is not None) == native


def test_precision_option_picks_the_sides():
    args = train_speed.parse_args(["--ours-option", "precision=bf16", "--ours-option", "seed=2"])
    assert args.precisions == ["bf16"] and dict(args.ours_option) == {"seed": 2}


def test_step_flops_match_the_count_by_hand(tiny_mnist_dir):
    """The FLOP counter sees every product of Fig 2's step, forward and backward, and no more:
    no input gradient for the image, none for the discriminator's weights in the generator step.
    """
    batch, image, hidden, code = 50, IMAGE_SIZE, 32, 2
    config = TrainConfig(model=unsupervised("gmm", hidden=hidden), batch_size=128, precision="fp32")
    trainer = Trainer(config, load_mnist(tiny_mnist_dir), "cpu", progress=False)

    def dis(n):
        return 2 * n * (code * hidden + hidden * hidden + hidden)

    enc = 2 * batch * (image * hidden + hidden * hidden + hidden * code)
    dec = 2 * batch * (code * hidden + hidden * hidden + hidden * image)
    first_layer = 2 * batch * image * hidden
    expected = (
        3 * (enc + dec)
        - first_layer  # reconstruction
        + enc  # the encoder forward shared by the two adversarial steps
        + 3 * dis(2 * batch)
        - 2 * 2 * batch * code * hidden  # discriminator
        + 2 * dis(batch)
        + 2 * enc
        - first_layer
    )  # generator
    assert train_speed.step_flops(trainer, torch.arange(batch)) == expected


def test_ours_options_set_trainconfig_fields():
    assert train_speed.parse_option("noise_std=0.3") == ("noise_std", 0.3)
    name, value = train_speed.parse_option("optimizer=sgd")
    assert dataclasses.replace(TrainConfig(), **{name: value}).optimizer == "sgd"
    with pytest.raises(argparse.ArgumentTypeError, match="TrainConfig field"):
        train_speed.parse_option("no_such_field=1")
    with pytest.raises(SystemExit):  # a value TrainConfig rejects stops the run before it starts
        train_speed.main(["--ours-option", "batch_size=0"])


@pytest.mark.parametrize(
    "model",
    [
        unsupervised("gmm", hidden=32),
        label_conditioned("gmm", hidden=32),
        supervised(hidden=32),
        categorical(hidden=32),
    ],
    ids=model_kind,
)
def test_baseline_computes_the_same_losses_as_ours(tiny_mnist_dir, tmp_path, model):
    """Same weights, batch and prior draws: every phase's loss agrees, step after step."""
    # No input noise: its RNG streams differ. The baseline classifies whenever there are classes.
    # fp32 on both sides, whatever "auto" would pick on this machine.
    config = TrainConfig(
        model=model, batch_size=128, classify=bool(model.n_classes), precision="fp32"
    )
    ours = Trainer(config, load_mnist(tiny_mnist_dir), "cpu", progress=False)
    root = torchvision_root(find_mnist(tiny_mnist_dir), tmp_path / "torchvision")
    baseline = BaselineTrainer(config, root, n_train=50)
    baseline.model.load_state_dict(ours.model.state_dict())

    images = torch.stack([baseline.dataset[i][0].view(-1) for i in range(50)])
    labels = baseline.dataset.targets[:50]
    torch.testing.assert_close(images, ours.model.prepare(ours.images), atol=1e-6, rtol=0)
    # The whole labeled set is one batch, so the order each side draws it in does not matter.
    baseline.labeled_batches = iter([(images, labels)] * 3)

    for step in range(3):
        # Ours also draws labeled batches from its generator; the prior draws start level.
        baseline.prior_rng.set_state(ours.generator.get_state())
        expected = ours.train_step(torch.arange(50), step)
        got = baseline.train_step(images, labels)
        assert got.keys() == expected.keys()
        for phase, loss in expected.items():
            assert got[phase] == pytest.approx(loss.item(), rel=2e-6), (step, phase)


def test_profile_prints_the_busiest_operators(tiny_mnist_dir, capsys):
    profile_ours.main(
        [
            "--device",
            "cpu",
            "--data-dir",
            str(tiny_mnist_dir),
            "--steps",
            "1",
            "--rows",
            "5",
            "--ours-option",
            "precision=fp32",
        ]
    )
    out = capsys.readouterr().out
    assert "aten::addmm" in out
    assert "per step (fp32)" in out and "matmul" in out


def test_precision_check_compares_the_precisions_means(tiny_mnist_dir, tmp_path, capsys):
    path = tmp_path / "check.json"
    precision_check.main(
        [
            "label_gmm_all",
            "--epochs",
            "2",
            "--lr-drop",
            "1",
            "--runs",
            str(tmp_path / "runs"),
            "--data-dir",
            str(tiny_mnist_dir),
            "--json",
            str(path),
        ]
    )
    report = json.loads(path.read_text())  # what the file holds is what is checked
    assert set(report["runs"]) == {"fp32/seed0", "bf16/seed0", "fp32/seed1", "bf16/seed1"}
    run = report["runs"]["bf16/seed1"]
    assert run["seed"] == 1 and len(run["curves"]["component_agreement/test"]) == 2
    assert {"reconstruction_error/test", "component_agreement/test", "prior_mmd2/test"} <= set(
        run["metrics"]
    )
    verdict = report["verdicts"]["reconstruction_error/test"]
    fp32 = [report["runs"][f"fp32/seed{s}"]["metrics"]["reconstruction_error/test"] for s in (0, 1)]
    assert verdict["fp32_mean"] == pytest.approx(sum(fp32) / 2)
    assert verdict["within_noise"] == (verdict["difference"] <= verdict["seed_gap"])
    assert "within noise" in capsys.readouterr().out


def test_precision_check_verdict_fails_when_the_means_differ():
    def run(value):
        return {"metrics": {"accuracy/test": value}}

    runs = {
        "fp32/seed0": run(0.97),
        "fp32/seed1": run(0.971),
        "bf16/seed0": run(0.95),
        "bf16/seed1": run(0.951),
    }
    verdict = precision_check.compare(runs)["accuracy/test"]
    assert verdict["seed_gap"] == pytest.approx(0.001) and not verdict["within_noise"]


def test_bf16_ceiling_removes_the_casts_and_the_optimiser(tiny_mnist_dir, capsys):
    frozen = bf16_ceiling.variant_trainer(
        "bf16 weights, no optimiser", "fig2-gmm", 1, tiny_mnist_dir
    )
    weights = [p.clone() for p in frozen.model.parameters()]
    frozen.train_epoch()
    assert all(p.dtype == torch.bfloat16 for p in frozen.model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(weights, frozen.model.parameters(), strict=True))
    bf16_ceiling.main(["--steps", "1", "--repeats", "1", "--data-dir", str(tiny_mnist_dir)])
    rows = [line for line in capsys.readouterr().out.splitlines() if "ms per step" in line]
    assert [row[:28].strip() for row in rows] == list(bf16_ceiling.VARIANTS)


def test_the_cpu_is_named_with_its_family_and_model():
    cpuinfo = "processor\t: 0\ncpu family\t: 26\nmodel\t\t: 2\nmodel name\t: AMD EPYC\n"
    assert cpu_model(cpuinfo) == "AMD EPYC (family 26, model 2)"
    assert cpu_model("model name\t: Intel Xeon\n") == "Intel Xeon"


def test_the_peak_is_the_best_of_its_shapes():
    from benchmarks.peaks import peak_matmul_gflops

    peak = peak_matmul_gflops(torch.float32, "cpu", shapes=((8, 16, 8), (16, 8, 16)), budget=0.001)
    assert peak["peak"] == max(peak["8x16x8"], peak["16x8x16"]) > 0
