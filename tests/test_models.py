import pytest
import torch

from aae_lib.data import IMAGE_SIZE
from aae_lib.models import AdversarialAutoencoder, Adversary, ModelConfig, label_condition
from aae_lib.recipes import categorical, label_conditioned, supervised, unsupervised

MODELS = {
    "unsupervised": unsupervised("gaussian", hidden=32),
    "label": label_conditioned("gmm", hidden=32),
    "supervised": supervised(hidden=32),
    "semisupervised": categorical(ncode=2, hidden=32),
}


def images(n=6):
    return torch.randint(0, 256, (n, IMAGE_SIZE), dtype=torch.uint8)


@pytest.mark.parametrize("name", MODELS)
def test_every_model_encodes_decodes_and_samples(name):
    model = AdversarialAutoencoder(MODELS[name]).eval()
    x = model.prepare(images())
    assert x.min() >= -1 and x.max() <= 1
    codes = model.encode(x)
    assert codes.shape == (6, 2)
    out = model.reconstruct(x, torch.arange(6))
    assert out.shape == (6, IMAGE_SIZE)
    assert model.sample(5, torch.Generator().manual_seed(0)).shape == (5, IMAGE_SIZE)


def test_label_discriminator_sees_eleven_classes():
    model = AdversarialAutoencoder(label_conditioned("gmm", hidden=16))
    assert model.discriminators["z"].net[0].in_features == 2 + 11
    condition = label_condition(torch.tensor([0, 10]))
    assert condition.shape == (2, 11) and condition[1, 10] == 1 and condition[0, 0] == 1


def test_label_conditioned_samples_come_from_the_labels_component():
    model = AdversarialAutoencoder(label_conditioned("gmm", hidden=16))
    generator = torch.Generator().manual_seed(0)
    labels = torch.full((200,), 3)
    codes = model.prior.sample_for_labels(labels, generator)
    assert (model.prior.nearest_component(codes) == 3).float().mean() > 0.9


def test_supervised_decoder_needs_labels_and_semi_has_two_discriminators():
    model = AdversarialAutoencoder(supervised(hidden=16))
    with pytest.raises(ValueError, match="pass labels"):
        model.decode(torch.zeros(1, 2))
    one_hot = model.decode(torch.zeros(2, 2), torch.tensor([1, 7]))
    assert not torch.equal(one_hot[0], one_hot[1])  # the label reaches the decoder
    semi = AdversarialAutoencoder(categorical(hidden=16))
    assert set(semi.discriminators) == {"z", "y"}
    assert semi.classify(semi.prepare(images())).shape == (6, 10)
    with pytest.raises(ValueError, match="no categorical head"):
        model.classify(torch.zeros(1, IMAGE_SIZE))


def test_a_clustering_model_is_a_configuration_with_more_classes():
    model = AdversarialAutoencoder(categorical(n_classes=16, ncode=5, hidden=16))
    assert model.classify(model.prepare(images())).shape == (6, 16)
    assert model.discriminators["y"].net[0].in_features == 16
    assert model.decoder.net[0].in_features == 5 + 16


def cluster_head_model(**options):
    return categorical(
        n_classes=4,
        ncode=2,
        hidden=16,
        decoder_input="cluster_heads",
        cluster_head_spacing=3.0,
        **options,
    )


def test_a_cluster_head_model_maps_an_image_to_its_code_plus_its_classes_heads():
    model = AdversarialAutoencoder(cluster_head_model()).eval()
    x = model.prepare(images())
    codes, logits = model.encoder(x)
    heads = model.cluster_heads.weight.T  # one row per class
    assert torch.allclose(model.represent(x), codes + logits.softmax(1) @ heads)
    assert model.decoder.net[0].in_features == 2  # the decoder reads the 2-D map only
    assert torch.allclose(model.decoder_code(torch.zeros(1, 2), torch.tensor([3])), heads[3:])
    assert torch.equal(model.represent(x), model.represent(x))
    plain = AdversarialAutoencoder(categorical(ncode=2, hidden=16)).eval()
    assert torch.equal(plain.represent(x), plain.encode(x))


def test_unit_pixel_range_uses_sigmoid_output():
    model = AdversarialAutoencoder(ModelConfig(pixel_range="unit", hidden=16))
    x = model.prepare(images())
    assert x.min() >= 0 and x.max() <= 1
    out = model.decode(model.encode(x) * 1e3)  # large codes saturate the output squash
    assert out.min() >= 0 and out.max() <= 1 and (out < 0.01).any()


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
    assert {k.split(".")[0] for k in keys} == {"encoder", "decoder"}


def test_mixture_radius_reaches_the_prior():
    model = AdversarialAutoencoder(unsupervised("gmm", mixture_radius=0.8, hidden=16))
    assert model.prior.radius == 0.8
    assert ModelConfig.from_dict(model.config.to_dict()) == model.config


@pytest.mark.parametrize(
    "bad",
    [
        dict(prior="uniform"),
        dict(prior="gmm", ncode=3),
        dict(encoder_head="flow"),
        dict(pixel_range="bytes"),
        dict(decoder_input="image"),
        dict(adversaries=(Adversary("y"),)),
        dict(adversaries=(Adversary("z"), Adversary("z"))),
        dict(decoder_input="code+class"),
        dict(mixture_radius=0.0),
        dict(cluster_head_spacing=2.0),
        dict(
            decoder_input="cluster_heads", n_classes=4, adversaries=(Adversary("z"), Adversary("y"))
        ),
    ],
)
def test_bad_configs_are_refused(bad):
    with pytest.raises(ValueError):
        AdversarialAutoencoder(ModelConfig(**{"hidden": 8, **bad}))


def test_only_the_code_adversary_sees_labels():
    with pytest.raises(ValueError, match="only the code adversary"):
        Adversary("y", sees_label=True)
