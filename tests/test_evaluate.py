import pytest
import torch

from aae_lib import evaluate
from aae_lib.data import IMAGE_SIZE, N_CLASSES
from aae_lib.models import AdversarialAutoencoder, ModelConfig
from aae_lib.recipes import categorical


def test_cluster_error_labels_each_cluster_by_its_most_confident_validation_image():
    model = AdversarialAutoencoder(categorical(n_classes=4, ncode=2, hidden=8))
    images = torch.zeros(8, IMAGE_SIZE, dtype=torch.uint8)
    clusters = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    confidence = torch.tensor([5.0, 5, 5, 5, 9, 9, 9, 9])  # the second half is surer
    model.classify = lambda x: confidence[:, None] * torch.nn.functional.one_hot(clusters, 4)
    validation_labels = torch.tensor([0, 0, 0, 0, 7, 1, 2, 3])
    test_labels = torch.tensor([7, 1, 2, 5, 7, 1, 2, 3])  # one of the 8 disagrees
    error, cluster_labels = evaluate.cluster_error(
        model, images, validation_labels, images, test_labels
    )
    assert cluster_labels.tolist() == [7, 1, 2, 3]
    assert error == 1 / 8
    assert evaluate.cluster_sizes(model, images).tolist() == [2, 2, 2, 2]
    model.classify = lambda x: torch.zeros(len(x), 4).index_fill_(1, torch.tensor([2]), 1.0)
    assert evaluate.cluster_sizes(model, images).tolist() == [0, 0, 8, 0]  # a collapsed head


def test_majority_labelling_and_clusters_in_use_on_a_hand_built_head():
    model = AdversarialAutoencoder(categorical(n_classes=4, ncode=2, hidden=8))
    clusters = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2, 2])  # cluster 3 is empty
    model.classify = lambda x: 9.0 * torch.nn.functional.one_hot(clusters, 4).float()
    images = torch.zeros(10, IMAGE_SIZE, dtype=torch.uint8)
    validation_labels = torch.tensor([4, 4, 5, 6, 6, 8, 8, 8, 1, 1])
    # majority labels: cluster 0 -> 4, 1 -> 6, 2 -> 8; test images agree on 4 + 2 + 3 = 9
    test_labels = torch.tensor([4, 4, 4, 6, 6, 8, 8, 8, 8, 0])
    error = evaluate.majority_cluster_error(model, images, validation_labels, images, test_labels)
    assert error == pytest.approx(1 / 10)
    assert evaluate.clusters_in_use(model, images) == 3
    clusters = torch.tensor([0] * 199 + [1])  # one image in 200 is under the 1 % share
    many = torch.zeros(200, IMAGE_SIZE, dtype=torch.uint8)
    assert evaluate.clusters_in_use(model, many) == 1


def test_prior_mmd_is_at_sampling_noise_for_prior_samples_and_large_for_a_collapsed_code():
    from aae_lib.priors import make_prior

    prior = make_prior("gmm", 2)
    own = prior.sample(3000, torch.Generator().manual_seed(1))
    fit = evaluate.prior_mmd(own, prior, torch.Generator().manual_seed(0))
    assert fit["mmd2"] < 3 * fit["mmd2_between_prior_samples"] + 1e-3
    collapsed = evaluate.prior_mmd(torch.zeros(3000, 2), prior, torch.Generator().manual_seed(0))
    assert collapsed["mmd2"] > 20 * fit["mmd2"] + 0.05


def test_digit_from_code_is_perfect_for_a_code_of_the_digit_and_near_chance_for_noise():
    labels = torch.arange(10_000) % N_CLASSES
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(10_000, 10, generator=generator)
    assert evaluate.digit_from_code(torch.eye(10)[labels] + 0.1 * noise, labels) == 1.0
    assert abs(evaluate.digit_from_code(noise, labels) - 0.1) < 0.03


class _Decoder(torch.nn.Module):
    """Draws the digit asked for (``obeys``) or the digit its code names: pixel d lit."""

    def __init__(self, obeys: bool):
        super().__init__()
        self.obeys = obeys
        self.config = ModelConfig(pixel_range="unit")

    def decode(self, codes, digits):
        drawn = digits if self.obeys else codes.argmax(1)
        return torch.nn.functional.one_hot(drawn, IMAGE_SIZE).float()


class _Judge(torch.nn.Module):
    config = ModelConfig(pixel_range="unit")

    def classify(self, images):
        return images[:, :10]


def test_label_agreement_is_one_when_the_label_decides_and_chance_when_the_code_does():
    codes = torch.eye(10).repeat(10, 1)  # each code names one digit
    assert evaluate.label_agreement(_Decoder(obeys=True), _Judge(), codes) == 1.0
    assert evaluate.label_agreement(_Decoder(obeys=False), _Judge(), codes) == pytest.approx(0.1)


def test_decoding_as_every_digit_is_digit_major():
    codes = torch.eye(10)[:3]
    images = evaluate.decode_as_every_digit(_Decoder(obeys=True), codes)
    assert images.shape == (30, IMAGE_SIZE)
    assert images[:, :10].argmax(1).tolist() == [d for d in range(10) for _ in range(3)]
