import dataclasses

import pytest
import torch

from aae_lib import checkpoints
from aae_lib.data import MNIST
from aae_lib.errors import CheckpointError, TrainingDiverged
from aae_lib.models import ModelConfig
from aae_lib.train import REFERENCE_WEIGHTS, TrainConfig, Trainer, paper_semisupervised

KINDS = {
    "unsupervised": "gmm",
    "label": "gmm",
    "supervised": "gaussian",
    "semisupervised": "gaussian",
}


@pytest.fixture(scope="module")
def tiny():
    """200 training and 60 test images whose brightness pattern depends on the digit."""
    g = torch.Generator().manual_seed(0)

    def split(n):
        labels = torch.arange(n) % 10
        base = torch.rand(10, 784, generator=g)
        images = 255 * (0.7 * base[labels] + 0.3 * torch.rand(n, 784, generator=g))
        return images.to(torch.uint8), labels

    train_images, train_labels = split(200)
    test_images, test_labels = split(60)
    return MNIST(train_images, train_labels, test_images, test_labels)


def config(kind="unsupervised", **overrides):
    model = ModelConfig(
        kind=kind, prior=KINDS[kind], hidden=32, ncode=10 if kind == "semisupervised" else 2
    )
    settings = dict(model=model, epochs=2, batch_size=32, lr=1e-3)
    if kind in ("label", "semisupervised"):
        settings["n_labeled"] = 50
    return TrainConfig(**{**settings, **overrides})


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_trains_and_records_history(tiny, kind):
    trainer = Trainer(config(kind), tiny, progress=False)
    history = trainer.fit()
    assert len(history["loss/reconstruction"]) == 2
    assert history["loss/reconstruction"][1] < history["loss/reconstruction"][0]
    assert "reconstruction_error/test" in history
    if kind == "semisupervised":
        assert {
            "loss/classification",
            "loss/generator_y",
            "accuracy/test",
            "accuracy/train",
        } <= history.keys()
    if kind == "label":
        assert 0.0 <= history["component_agreement/test"][-1] <= 1.0


def test_same_seed_gives_identical_weights_and_another_seed_does_not(tiny):
    def weights(seed):
        trainer = Trainer(
            config("semisupervised", seed=seed, noise_std=0.3, dropout_keep=0.8),
            tiny,
            progress=False,
        )
        trainer.fit()
        return torch.cat([p.flatten() for p in trainer.model.parameters()])

    assert torch.equal(weights(0), weights(0))
    assert not torch.equal(weights(0), weights(1))


@pytest.mark.parametrize("kind", ["unsupervised", "semisupervised"])
def test_resumed_run_equals_uninterrupted_run(tiny, tmp_path, kind):
    straight = Trainer(config(kind, epochs=3), tiny, progress=False)
    straight.fit()
    first = Trainer(config(kind, epochs=3), tiny, save_dir=tmp_path, progress=False)
    first.fit(epochs=2)  # "interrupted" after two epochs
    resumed = Trainer(config(kind, epochs=3), tiny, save_dir=tmp_path, progress=False)
    assert resumed.resume() and resumed.epochs_done == 2
    resumed.fit()
    for a, b in zip(straight.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert resumed.history["loss/reconstruction"] == straight.history["loss/reconstruction"]


def test_checkpoint_from_another_config_is_refused_with_the_difference(tiny, tmp_path):
    Trainer(config(epochs=1), tiny, save_dir=tmp_path, progress=False).fit()
    other = Trainer(config(epochs=1, lr=5e-4), tiny, save_dir=tmp_path, progress=False)
    with pytest.raises(CheckpointError, match="lr: checkpoint has 0.001, this run has 0.0005"):
        other.resume()
    bigger = dataclasses.replace(config(epochs=1), model=ModelConfig(prior="gmm", hidden=64))
    with pytest.raises(CheckpointError, match="hidden"):
        Trainer(bigger, tiny, progress=False).load(
            checkpoints.epoch_path(tmp_path, 0), resume=False
        )


def test_damaged_checkpoint_is_refused(tiny, tmp_path):
    Trainer(config(epochs=1), tiny, save_dir=tmp_path, progress=False).fit()
    path = checkpoints.epoch_path(tmp_path, 0)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match="SHA-256"):
        Trainer(config(epochs=1), tiny, progress=False).load(path)


def test_checkpoints_keep_the_newest_and_every_kth(tiny, tmp_path):
    Trainer(config(epochs=5), tiny, save_dir=tmp_path, keep_every=2, progress=False).fit()
    assert checkpoints.saved_epochs(tmp_path) == [0, 2, 4]
    manifest = checkpoints.read_manifest(checkpoints.epoch_path(tmp_path, 4))
    assert manifest["epochs_done"] == 5 and manifest["config"]["lr"] == 1e-3
    assert manifest["sha256"] == checkpoints.sha256_of(checkpoints.epoch_path(tmp_path, 4))


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tiny, tmp_path):
    trainer = Trainer(config(epochs=3), tiny, save_dir=tmp_path, progress=False)
    trainer.fit(epochs=1)
    with torch.no_grad():
        trainer.model.decoder.net[0].weight.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="reconstruction"):
        trainer.fit()
    assert checkpoints.saved_epochs(tmp_path) == [0]


def test_loss_weights_scale_their_phase_learning_rate():
    weights = {**REFERENCE_WEIGHTS, "generator_z": 3.0}
    cfg = TrainConfig(lr=2e-4, weights=weights)
    assert cfg.phase_lr("generator_z") == pytest.approx(1e-4)
    assert cfg.phase_lr("discriminator_z") == pytest.approx(2e-4)
    paper = paper_semisupervised()
    assert paper.phase_lr("reconstruction") == 0.01 and paper.phase_lr("classification") == 0.1
    assert paper.phase_momentum("generator_y") == 0.1
    assert paper.phase_momentum("reconstruction") == 0.9


def test_learning_rate_drops_tenfold_at_each_milestone(tiny):
    trainer = Trainer(config(lr_milestones=(1, 2), epochs=3), tiny, progress=False)
    seen = []
    trainer.on_epoch_end = lambda t: seen.append(
        t.optimizers["reconstruction"].param_groups[0]["lr"]
    )
    trainer.fit()
    assert seen == pytest.approx([1e-3, 1e-4, 1e-5])


def test_classification_every_tenth_step_as_in_the_reference(tiny):
    every = Trainer(config("semisupervised", epochs=1, classify_every=1), tiny, progress=False)
    tenth = Trainer(config("semisupervised", epochs=1, classify_every=10), tiny, progress=False)
    calls = {}
    for name, trainer in (("every", every), ("tenth", tenth)):
        original = trainer._classification_phase
        calls[name] = 0

        def counted(original=original, name=name):
            calls[name] += 1
            return original()

        trainer._classification_phase = counted
        trainer.fit()
    assert calls == {"every": 7, "tenth": 1}


@pytest.mark.parametrize(
    "bad",
    [
        dict(optimizer="rmsprop"),
        dict(dropout_keep=0.0),
        dict(weights={"genw": 1.0}),
        dict(epochs=0),
        dict(n_labeled=5),
        dict(noise_std=-1.0),
    ],
)
def test_bad_training_configs_are_refused(bad):
    with pytest.raises(ValueError):
        TrainConfig(**bad)


def test_config_round_trips_through_its_manifest_dict():
    cfg = paper_semisupervised(epochs=7)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_bf16_precision_changes_the_arithmetic_but_not_the_result_beyond_noise(tiny):
    def run(**options):
        trainer = Trainer(config("semisupervised", epochs=3, **options), tiny, progress=False)
        return trainer.fit(), torch.cat([p.flatten() for p in trainer.model.parameters()])

    fp32, fp32_weights = run()
    other_seed, _ = run(seed=1)
    bf16, bf16_weights = run(precision="bf16")
    assert not torch.equal(fp32_weights, bf16_weights)  # the option really computes in bf16
    assert all(p.dtype == torch.float32 for p in [fp32_weights, bf16_weights])
    final = {name: values[-1] for name, values in fp32.items() if name.startswith("loss/")}
    for name, value in final.items():
        seed_gap = abs(other_seed[name][-1] - value)
        assert abs(bf16[name][-1] - value) <= max(2 * seed_gap, 0.02 * abs(value)), name
