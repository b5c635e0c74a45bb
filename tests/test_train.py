import dataclasses
import json
from pathlib import Path

import pytest
import torch

from aae_lib import checkpoints, evaluate
from aae_lib.data import IMAGE_SIZE, MNIST, N_CLASSES
from aae_lib.errors import CheckpointError, TrainingDiverged
from aae_lib.models import AdversarialAutoencoder, ModelConfig
from aae_lib.phases import cluster_head_penalty
from aae_lib.recipes import (
    RECIPES,
    categorical,
    label_conditioned,
    paper_semisupervised,
    supervised,
    unsupervised,
    vae,
)
from aae_lib.train import REFERENCE_WEIGHTS, TrainConfig, Trainer

MODELS = {
    "unsupervised": unsupervised("gmm", hidden=32),
    "label": label_conditioned("gmm", hidden=32),
    "supervised": supervised(hidden=32),
    "semisupervised": categorical(hidden=32),
}
BEFORE_RESTRUCTURING = Path(__file__).parent / "data" / "losses_before_restructuring.json"


@pytest.fixture(scope="module")
def tiny():
    """200 training and 60 test images whose brightness pattern depends on the digit."""
    g = torch.Generator().manual_seed(0)

    def split(n):
        labels = torch.arange(n) % N_CLASSES
        base = torch.rand(10, IMAGE_SIZE, generator=g)
        images = 255 * (0.7 * base[labels] + 0.3 * torch.rand(n, IMAGE_SIZE, generator=g))
        return images.to(torch.uint8), labels

    train_images, train_labels = split(200)
    test_images, test_labels = split(60)
    return MNIST(train_images, train_labels, test_images, test_labels)


def config(name="unsupervised", **overrides):
    settings = dict(model=MODELS[name], epochs=2, batch_size=32, lr=1e-3, precision="fp32")
    if name in ("label", "semisupervised"):
        settings["n_labeled"] = 50
    settings["classify"] = name == "semisupervised"
    return TrainConfig(**{**settings, **overrides})


@pytest.mark.parametrize("name", MODELS)
def test_every_model_trains_and_records_history(tiny, name):
    trainer = Trainer(config(name), tiny, progress=False)
    history = trainer.fit()
    assert len(history["loss/reconstruction"]) == 2
    assert history["loss/reconstruction"][1] < history["loss/reconstruction"][0]
    expected = {
        "loss/reconstruction",
        "loss/discriminator_z",
        "loss/generator_z",
        "reconstruction_error/test",
        "time/epoch_seconds",
        "time/examples_per_second",
    }
    if name == "semisupervised":
        expected |= {
            "loss/classification",
            "loss/discriminator_y",
            "loss/generator_y",
            "accuracy/test",
            "accuracy/train",
        }
    if name == "label":
        expected |= {"component_agreement/test"}
    if name == "supervised":
        expected |= {"digit_from_code/test"}
    assert history.keys() == expected


@pytest.mark.parametrize("name", MODELS)
def test_the_four_models_train_exactly_as_before_the_restructuring(tiny, name):
    """Losses recorded with the trainer that branched on a model kind, same seed and data."""
    before = json.loads(BEFORE_RESTRUCTURING.read_text())[name]
    history = Trainer(config(name, noise_std=0.3, dropout_keep=0.8), tiny, progress=False).fit()
    for loss, values in before.items():
        assert history[loss] == pytest.approx(values, rel=1e-5), loss


def test_component_agreement_counts_codes_in_their_own_digits_component():
    prior = label_conditioned("gmm").make_prior()
    labels = torch.arange(N_CLASSES).repeat(20)
    own = prior.sample_for_labels(labels, torch.Generator().manual_seed(0))
    assert evaluate.component_agreement(own, labels, prior) > 0.95
    shifted = prior.sample_for_labels((labels + 1) % N_CLASSES, torch.Generator().manual_seed(0))
    assert evaluate.component_agreement(shifted, labels, prior) < 0.05


def test_swiss_roll_with_labels_trains_end_to_end(tiny):
    model = label_conditioned("swiss_roll", hidden=32)
    trainer = Trainer(
        TrainConfig(model=model, epochs=3, batch_size=32, lr=1e-3), tiny, progress=False
    )
    history = trainer.fit()
    assert history["loss/reconstruction"][-1] < history["loss/reconstruction"][0]
    assert len(trainer.code_snapshots) == 3 and trainer.code_snapshots[0].shape == (60, 2)
    assert len(history["component_agreement/test"]) == 3


def test_validation_split_holds_out_images_the_run_never_trains_on(tiny):
    big = MNIST(
        tiny.train_images.repeat(60, 1),
        tiny.train_labels.repeat(60),
        tiny.test_images,
        tiny.test_labels,
    )
    trainer = Trainer(
        config("semisupervised", validation=True, epochs=1, n_labeled=100), big, progress=False
    )
    assert len(trainer.images) == 12_000 - 10_000
    assert len(trainer.validation_images) == 10_000
    assert trainer.labeled_index.max() < len(trainer.images)
    history = trainer.fit()
    assert {"accuracy/validation", "reconstruction_error/validation"} <= history.keys()


def test_a_clustering_run_measures_its_cluster_error_on_the_test_set_every_epoch(tiny):
    big = MNIST(
        tiny.train_images.repeat(60, 1),
        tiny.train_labels.repeat(60),
        tiny.test_images,
        tiny.test_labels,
    )
    model = categorical(n_classes=12, ncode=5, hidden=32)
    trainer = Trainer(config(model=model, validation=True, epochs=2), big, progress=False)
    history = trainer.fit()
    assert "accuracy/test" not in history  # no labels: the head is never called a classifier
    error, cluster_labels = evaluate.cluster_error(
        trainer.model,
        trainer.validation_images,
        trainer.validation_labels,
        trainer.eval_images,
        trainer.eval_labels,
    )
    assert history["cluster_error/test"] == [pytest.approx(history["cluster_error/test"][0]), error]
    assert cluster_labels.shape == (12,)


def test_cluster_head_penalty_counts_only_pairs_closer_than_the_spacing():
    heads = torch.tensor([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0]])
    assert cluster_head_penalty(heads, 3.0).item() == pytest.approx(2.0)
    assert cluster_head_penalty(heads, 1.0).item() == 0.0


def test_training_spreads_the_cluster_heads_and_records_the_map(tiny):
    model = categorical(
        n_classes=5,
        ncode=2,
        hidden=32,
        pixel_range="unit",
        decoder_input="cluster_heads",
        cluster_head_spacing=2.0,
    )
    trainer = Trainer(
        config(model=model, optimizer="sgd", lr=0.01, momentum=0.9, epochs=4), tiny, progress=False
    )
    assert torch.pdist(trainer.model.cluster_heads.weight.T).min() < 1.0
    trainer.fit()
    assert torch.pdist(trainer.model.cluster_heads.weight.T).min() > 1.8
    snapshot = trainer.code_snapshots[-1].float()
    assert torch.allclose(
        snapshot,
        evaluate.represent_all(trainer.model, tiny.test_images),
        atol=1e-2 * snapshot.abs().max(),
    )


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


@pytest.mark.parametrize("name", ["unsupervised", "semisupervised"])
def test_resumed_run_equals_uninterrupted_run_with_noise_and_dropout(tiny, tmp_path, name):
    options = dict(epochs=3, noise_std=0.3, dropout_keep=0.8)
    straight = Trainer(config(name, **options), tiny, progress=False)
    straight.fit()
    first = Trainer(config(name, **options), tiny, save_dir=tmp_path, progress=False)
    first.fit(epochs=2)  # "interrupted" after two epochs
    resumed = Trainer(config(name, **options), tiny, save_dir=tmp_path, progress=False)
    assert resumed.resume() and resumed.epochs_done == 2
    resumed.fit()
    for a, b in zip(straight.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert resumed.history["loss/reconstruction"] == straight.history["loss/reconstruction"]


def clustering_config(**overrides):
    """A tiny run with the paper's clustering encoder and input dropout."""
    model = categorical(
        n_classes=6, ncode=3, hidden=32, pixel_range="unit", encoder_batch_norm=True
    )
    settings = dict(
        model=model, optimizer="sgd", lr=0.01, momentum=0.9, input_dropout=0.2, epochs=3
    )
    return config(**{**settings, **overrides})


def test_a_batch_norm_encoder_resumes_bit_identically_with_its_running_statistics(tiny, tmp_path):
    straight = Trainer(clustering_config(), tiny, progress=False)
    straight.fit()
    first = Trainer(clustering_config(), tiny, save_dir=tmp_path, progress=False)
    first.fit(epochs=2)
    resumed = Trainer(clustering_config(), tiny, save_dir=tmp_path, progress=False)
    assert resumed.resume()
    resumed.fit()
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    assert "encoder.norms.class_logits.running_var" in a
    assert all(torch.equal(a[k], b[k]) for k in a)  # buffers (running statistics) included
    assert a["encoder.norms.z.num_batches_tracked"] > 0


def test_a_batch_norm_encoder_uses_its_running_statistics_in_evaluation(tiny):
    trainer = Trainer(clustering_config(epochs=1), tiny, progress=False)
    trainer.fit()
    images = trainer.model.prepare(tiny.test_images[:8])
    alone = evaluate.encode_all(trainer.model, tiny.test_images[:1])
    together = evaluate.encode_all(trainer.model, tiny.test_images[:8])
    assert torch.allclose(alone[0], together[0], atol=1e-6)  # no batch statistics in eval
    trainer.model.train()
    with torch.no_grad():
        in_training = trainer.model.encode(images)
    assert not torch.allclose(in_training, together)


def test_input_dropout_zeroes_about_its_share_of_pixels_and_rescales_the_rest(tiny):
    trainer = Trainer(clustering_config(), tiny, progress=False)
    images = torch.full((100, IMAGE_SIZE), 0.5)
    dropped = trainer._noisy(images)
    zeroed = (dropped == 0).float().mean().item()
    assert zeroed == pytest.approx(0.2, abs=0.01)
    assert torch.allclose(dropped[dropped != 0], torch.tensor(0.5 / 0.8))


def test_models_without_batch_norm_keep_their_state_dict_keys():
    plain = AdversarialAutoencoder(categorical(hidden=8)).state_dict().keys()
    assert not any("norms" in key for key in plain)
    assert set(plain) < set(
        AdversarialAutoencoder(categorical(hidden=8, encoder_batch_norm=True)).state_dict()
    )


def test_checkpoint_from_another_model_is_refused_with_the_difference(tiny, tmp_path):
    Trainer(config(epochs=1), tiny, save_dir=tmp_path, progress=False).fit()
    other = Trainer(config(epochs=1, batch_size=16), tiny, save_dir=tmp_path, progress=False)
    with pytest.raises(CheckpointError, match="batch_size: checkpoint has 32, this run has 16"):
        other.resume()
    bigger = dataclasses.replace(config(epochs=1), model=ModelConfig(prior="gmm", hidden=64))
    with pytest.raises(CheckpointError, match="hidden"):
        Trainer(bigger, tiny, progress=False).load(
            checkpoints.epoch_path(tmp_path, 0), resume=False
        )


def test_a_checkpoint_older_than_a_setting_resumes_with_the_settings_default(tiny, tmp_path):
    Trainer(config(epochs=1), tiny, save_dir=tmp_path, progress=False).fit()
    manifest_path = checkpoints.epoch_path(tmp_path, 0).with_suffix(".json")
    manifest = json.loads(manifest_path.read_text())
    del manifest["config"]["discriminator_steps"]  # written before the setting existed
    manifest_path.write_text(json.dumps(manifest))
    resumed = Trainer(config(epochs=2), tiny, save_dir=tmp_path, progress=False)
    assert resumed.resume() and resumed.epochs_done == 1
    resumed.fit()
    stronger = Trainer(config(epochs=2, discriminator_steps=3), tiny, progress=False)
    with pytest.raises(CheckpointError, match="discriminator_steps: checkpoint has 1, this run"):
        stronger.load(checkpoints.epoch_path(tmp_path, 0))


def test_a_resumed_run_may_lower_the_learning_rate_and_the_manifest_says_so(tiny, tmp_path):
    Trainer(config(epochs=1), tiny, save_dir=tmp_path, progress=False).fit()
    slower = Trainer(config(epochs=2, lr=5e-4), tiny, save_dir=tmp_path, progress=False)
    assert slower.resume()
    slower.fit()
    assert slower.optimizers["reconstruction"].param_groups[0]["lr"] == 5e-4
    manifest = checkpoints.read_manifest(checkpoints.epoch_path(tmp_path, 1))
    assert manifest["resumptions"] == [
        {"epoch": 1, "changes": ["lr: checkpoint has 0.001, this run has 0.0005"]}
    ]


def test_a_resumed_run_may_move_a_milestone_and_the_new_one_takes_effect(tiny, tmp_path):
    Trainer(config(epochs=1, lr_milestones=(3,)), tiny, save_dir=tmp_path, progress=False).fit()
    earlier = Trainer(config(epochs=2, lr_milestones=(1,)), tiny, save_dir=tmp_path, progress=False)
    assert earlier.resume()
    earlier.fit()
    assert earlier.optimizers["reconstruction"].param_groups[0]["lr"] == pytest.approx(1e-4)
    manifest = checkpoints.read_manifest(checkpoints.epoch_path(tmp_path, 1))
    assert manifest["resumptions"] == [
        {"epoch": 1, "changes": ["lr_milestones: checkpoint has [3], this run has [1]"]}
    ]


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
    with pytest.raises(TrainingDiverged, match="last good checkpoint \\(epoch 0\\) is kept"):
        trainer.fit()
    assert checkpoints.saved_epochs(tmp_path) == [0]


def test_an_exploding_learning_rate_is_caught_within_the_epoch_and_nothing_is_saved(tmp_path):
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (3200, IMAGE_SIZE), dtype=torch.uint8, generator=g)
    labels = torch.arange(3200) % N_CLASSES
    data = MNIST(images, labels, images[:100], labels[:100])
    trainer = Trainer(config(epochs=1, lr=1e3), data, save_dir=tmp_path, progress=False)
    with pytest.raises(TrainingDiverged, match="step 49:.*no checkpoint was written"):
        trainer.fit()
    assert checkpoints.saved_epochs(tmp_path) == [] and trainer.epochs_done == 0


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


def optimizer_steps(adam: torch.optim.Adam) -> int:
    """How many steps an Adam optimiser has taken (its state counts them per parameter)."""
    return int(adam.state[adam.param_groups[0]["params"][0]]["step"])


def test_classification_every_tenth_step_as_in_the_reference(tiny):
    """200 images in batches of 32 are 7 steps: 7 classification steps, or 1 (step 0)."""
    steps = {}
    for every in (1, 10):
        trainer = Trainer(
            config("semisupervised", epochs=1, classify_every=every), tiny, progress=False
        )
        trainer.fit()
        steps[every] = optimizer_steps(trainer.optimizers["classification"])
    assert steps == {1: 7, 10: 1}


def test_each_generator_step_follows_the_configured_number_of_discriminator_steps(tiny):
    """7 minibatches: 7 generator steps, and 7 or 21 discriminator steps."""
    steps = {}
    for k in (1, 3):
        trainer = Trainer(
            config("supervised", epochs=1, discriminator_steps=k), tiny, progress=False
        )
        trainer.fit()
        steps[k] = {
            phase: optimizer_steps(adam)
            for phase, adam in trainer.optimizers.items()
            if phase != "reconstruction"
        }
    assert steps == {
        1: {"discriminator_z": 7, "generator_z": 7},
        3: {"discriminator_z": 21, "generator_z": 7},
    }


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(optimizer="rmsprop"), "optimizer"),
        (dict(dropout_keep=0.0), "dropout"),
        (dict(weights={"genw": 1.0}), "unknown loss weights"),
        (dict(weights={**REFERENCE_WEIGHTS, "generator_z": float("nan")}), "loss weights"),
        (dict(epochs=0), "epochs must be at least 1"),
        (dict(batch_size=0), "batch_size must be at least 1"),
        (dict(discriminator_steps=0), "discriminator_steps must be at least 1"),
        (dict(noise_std=-1.0), "noise std"),
        (dict(lr=-1.0), "lr must be a finite number"),
        (dict(lr=float("nan")), "lr must be a finite number"),
        (dict(lr=0.0), "lr is 0"),
        (dict(precision="fp8"), "precision"),
        (dict(classify=True), "categorical head of 10"),
        (dict(model=supervised(), n_labeled=100), "every label"),
    ],
)
def test_bad_training_configs_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**bad)


@pytest.mark.parametrize("name", RECIPES)
def test_every_recipe_round_trips_through_its_manifest_dict(name):
    cfg = RECIPES[name]
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


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


def test_a_run_killed_between_weights_and_manifest_resumes_from_the_epoch_before(
    tiny, tmp_path, capsys
):
    Trainer(config(epochs=2), tiny, save_dir=tmp_path, progress=False).fit()
    # Epoch 2's weights reached the disk, its manifest was being written when it was killed.
    checkpoints.epoch_path(tmp_path, 2).write_bytes(
        checkpoints.epoch_path(tmp_path, 1).read_bytes()
    )
    (tmp_path / ".epoch-0002.json.0123abcd.part").write_text('{"format": ')
    resumed = Trainer(config(epochs=3), tiny, save_dir=tmp_path, progress=False)
    assert resumed.resume() and resumed.epochs_done == 2
    assert (
        "epoch 2 was interrupted while saving and is removed; resuming from epoch 1"
        in capsys.readouterr().out
    )
    resumed.fit()
    assert checkpoints.saved_epochs(tmp_path) == [0, 2]


def test_weights_whose_manifest_was_deleted_are_kept_and_not_called_an_interrupted_save(
    tiny, tmp_path, capsys
):
    Trainer(config(epochs=2), tiny, save_dir=tmp_path, progress=False).fit()
    checkpoints.epoch_path(tmp_path, 1).with_suffix(".json").unlink()
    resumed = Trainer(config(epochs=2), tiny, save_dir=tmp_path, progress=False)
    assert resumed.resume() and resumed.epochs_done == 1
    out = capsys.readouterr().out
    assert "epoch-0001.pt has no manifest beside it" in out and "interrupted" not in out
    assert checkpoints.epoch_path(tmp_path, 1).exists()


@pytest.mark.parametrize("prior", ["gaussian", "gmm"])
def test_a_vae_is_the_same_networks_with_a_kl_term_instead_of_an_adversary(tiny, prior):
    model = vae(prior, hidden=32)
    trainer = Trainer(
        TrainConfig(model=model, epochs=3, batch_size=32, lr=1e-3), tiny, progress=False
    )
    history = trainer.fit()
    assert set(trainer.optimizers) == {"reconstruction"} and not trainer.model.discriminators
    assert {"loss/reconstruction", "loss/kl"} <= history.keys()
    assert history["loss/reconstruction"][-1] < history["loss/reconstruction"][0]
    assert all(kl > 0 for kl in history["loss/kl"])
