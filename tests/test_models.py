import pytest
import torch

from aae_lib.models import KINDS, AdversarialAutoencoder, ModelConfig


def images(n=6):
    return torch.randint(0, 256, (n, 784), dtype=torch.uint8)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_encodes_decodes_and_samples(kind):
    model = AdversarialAutoencoder(ModelConfig(kind=kind, prior="gaussian", hidden=32)).eval()
    x = model.prepare(images())
    assert x.min() >= -1 and x.max() <= 1
    codes = model.encode(x)
    assert codes.shape == (6, 2)
    labels = torch.arange(6)
    out = model.decode(codes, labels if model.config.decoder_sees_label else None)
    assert out.shape == (6, 784) and out.abs().max() <= 1
    assert model.sample(5, torch.Generator().manual_seed(0)).shape == (5, 784)


def test_label_discriminator_sees_eleven_classes():
    model = AdversarialAutoencoder(ModelConfig(kind="label", prior="gmm", hidden=16))
    assert model.discriminators["z"].net[0].in_features == 2 + 11
    condition = model.discriminator_condition(torch.tensor([0, 10]))
    assert condition.shape == (2, 11) and condition[1, 10] == 1


def test_supervised_decoder_needs_labels_and_semi_has_two_discriminators():
    supervised = AdversarialAutoencoder(ModelConfig(kind="supervised", hidden=16))
    with pytest.raises(ValueError, match="code and a label"):
        supervised.decode(torch.zeros(1, 2))
    semi = AdversarialAutoencoder(ModelConfig(kind="semisupervised", ncode=10, hidden=16))
    assert set(semi.discriminators) == {"z", "y"}
    assert semi.classify(semi.prepare(images())).shape == (6, 10)
    with pytest.raises(ValueError, match="no classifier"):
        supervised.classify(torch.zeros(1, 784))


def test_unit_pixel_range_uses_sigmoid_output():
    model = AdversarialAutoencoder(ModelConfig(pixel_range="unit", hidden=16))
    x = model.prepare(images())
    assert x.min() >= 0 and x.max() <= 1
    assert model.decode(model.encode(x)).min() >= 0


def test_gaussian_head_samples_in_training_and_returns_mean_in_eval():
    model = AdversarialAutoencoder(ModelConfig(encoder_head="gaussian", hidden=16))
    x = model.prepare(images())
    torch.manual_seed(0)
    assert not torch.equal(model.encode(x), model.encode(x))
    model.eval()
    assert torch.equal(model.encode(x), model.encode(x))


def test_inference_state_leaves_out_discriminators():
    model = AdversarialAutoencoder(ModelConfig(hidden=16))
    keys = model.inference_state_dict().keys()
    assert keys and not any(k.startswith("discriminators") for k in keys)
    assert any(k.startswith("decoder") for k in keys)


@pytest.mark.parametrize(
    "bad",
    [
        dict(kind="vae"),
        dict(prior="uniform"),
        dict(prior="gmm", ncode=3),
        dict(encoder_head="flow"),
        dict(pixel_range="bytes"),
    ],
)
def test_bad_configs_are_refused(bad):
    with pytest.raises(ValueError):
        AdversarialAutoencoder(ModelConfig(**{"hidden": 8, **bad}))
