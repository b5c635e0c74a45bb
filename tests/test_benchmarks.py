import argparse
import dataclasses
import json

import pytest
import torch

from aae_lib.data import find_mnist, load_mnist
from aae_lib.models import ModelConfig
from aae_lib.train import TrainConfig, Trainer
from benchmarks import profile_ours, train_speed
from benchmarks.baseline import BaselineTrainer, torchvision_root


def test_smoke_run_writes_positive_figures(tiny_mnist_dir, tmp_path):
    path = tmp_path / "speed.json"
    train_speed.main(["--smoke", "--device", "cpu", "--data-dir", str(tiny_mnist_dir),
                      "--kinds", "semisupervised", "--threads", "1", "--ours-option", "seed=1",
                      "--json", str(path)])
    report = json.loads(path.read_text())
    assert {"device", "torch", "batch_size", "steps", "repeats", "kinds"} <= report.keys()
    assert report["ours_options"] == {"seed": 1}
    row = report["kinds"]["semisupervised"]
    assert row["speed_ratio"] > 0 and row["memory_ratio"] > 0
    for side in ("ours", "baseline"):
        assert row[side]["examples_per_second"] > 0
        assert row[side]["peak_memory_bytes"] > 0


def test_ours_options_set_trainconfig_fields():
    assert train_speed.parse_option("noise_std=0.3") == ("noise_std", 0.3)
    name, value = train_speed.parse_option("optimizer=sgd")
    assert dataclasses.replace(TrainConfig(), **{name: value}).optimizer == "sgd"
    with pytest.raises(argparse.ArgumentTypeError, match="TrainConfig field"):
        train_speed.parse_option("no_such_field=1")
    with pytest.raises(SystemExit):  # a value TrainConfig rejects stops the run before it starts
        train_speed.main(["--ours-option", "batch_size=0"])


@pytest.mark.parametrize("model", [
    ModelConfig(kind="unsupervised", prior="gmm", hidden=32),
    ModelConfig(kind="label", prior="gmm", hidden=32),
    ModelConfig(kind="supervised", hidden=32),
    ModelConfig(kind="semisupervised", ncode=10, hidden=32),
], ids=lambda model: model.kind)
def test_baseline_computes_the_same_losses_as_ours(tiny_mnist_dir, tmp_path, model):
    """Same weights, batch and prior draws: every phase's loss agrees, step after step."""
    config = TrainConfig(model=model, batch_size=128)  # no input noise: its RNG streams differ
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
    profile_ours.main(["--device", "cpu", "--data-dir", str(tiny_mnist_dir), "--steps", "1",
                       "--rows", "5"])
    assert "aten::addmm" in capsys.readouterr().out
