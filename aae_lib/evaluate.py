"""Metrics on held-out images: what the book reports beside the paper's numbers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from .data import N_CLASSES
from .models import AdversarialAutoencoder
from .priors import Prior

EVAL_BATCH = 2000


@contextlib.contextmanager
def evaluation_mode(model: AdversarialAutoencoder) -> Iterator[None]:
    """No gradients and eval mode (the Gaussian head gives its mean), then the mode it had."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def encode_all(model: AdversarialAutoencoder, images: torch.Tensor) -> torch.Tensor:
    """Codes of uint8 images."""
    with evaluation_mode(model):
        return torch.cat([model.encode(model.prepare(x)) for x in images.split(EVAL_BATCH)])


def represent_all(model: AdversarialAutoencoder, images: torch.Tensor) -> torch.Tensor:
    """What the decoder reads for uint8 images: the codes, or for a cluster-head model the
    low-dimensional map (code plus cluster heads)."""
    with evaluation_mode(model):
        return torch.cat([model.represent(model.prepare(x)) for x in images.split(EVAL_BATCH)])


def accuracy(model: AdversarialAutoencoder, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of ``images`` (all of them, not a mean of batch means) classified correctly."""
    with evaluation_mode(model):
        correct = sum(
            int((model.classify(model.prepare(x)).argmax(1) == y).sum())
            for x, y in zip(images.split(EVAL_BATCH), labels.split(EVAL_BATCH), strict=True)
        )
    return correct / len(labels)


def confusion_counts(
    model: AdversarialAutoencoder, images: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """``counts[digit, class]``: how many test images of each digit the head puts in each class."""
    with evaluation_mode(model):
        predicted = torch.cat(
            [model.classify(model.prepare(x)).argmax(1) for x in images.split(EVAL_BATCH)]
        )
    n = model.config.n_classes
    pairs = labels.to(predicted.device) * n + predicted
    return torch.bincount(pairs, minlength=N_CLASSES * n).reshape(N_CLASSES, n).cpu()


def class_probabilities(model: AdversarialAutoencoder, images: torch.Tensor) -> torch.Tensor:
    """q(y|x) of the categorical head for uint8 images: (images, classes)."""
    with evaluation_mode(model):
        return torch.cat(
            [model.classify(model.prepare(x)).softmax(1) for x in images.split(EVAL_BATCH)]
        )


def cluster_sizes(model: AdversarialAutoencoder, images: torch.Tensor) -> torch.Tensor:
    """How many of ``images`` the categorical head puts in each cluster (its argmax)."""
    return torch.bincount(
        class_probabilities(model, images).argmax(1), minlength=model.config.n_classes
    )


def reconstruction_error(
    model: AdversarialAutoencoder, images: torch.Tensor, labels: torch.Tensor
) -> float:
    """Mean squared error per pixel on the [0, 1] scale, comparable across pixel ranges."""
    scale = 0.5 if model.config.pixel_range == "signed" else 1.0
    total = 0.0
    with evaluation_mode(model):
        for x, y in zip(images.split(EVAL_BATCH), labels.split(EVAL_BATCH), strict=True):
            inputs = model.prepare(x)
            output = model.reconstruct(inputs, y)
            total += float(((output - inputs) * scale).square().sum())
    return total / images.numel()


def cluster_error(
    model: AdversarialAutoencoder,
    validation_images: torch.Tensor,
    validation_labels: torch.Tensor,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
) -> tuple[float, torch.Tensor]:
    """Unsupervised clustering error, as the paper's Table 3 measures it.

    Each cluster of the categorical head takes the label of the validation image it is most
    confident about; a test image is then classified by its cluster's label. Returns the test
    error and the label given to each cluster (-1 for a cluster no validation image chose).
    """
    validation = class_probabilities(model, validation_images)
    test_clusters = class_probabilities(model, test_images).argmax(1)
    assigned = validation.argmax(1)
    cluster_labels = torch.full((validation.shape[1],), -1, dtype=torch.long)
    for cluster in assigned.unique().tolist():
        members = (assigned == cluster).nonzero().flatten()
        most_confident = members[validation[members, cluster].argmax()]
        cluster_labels[cluster] = int(validation_labels[most_confident])
    predicted = cluster_labels.to(test_clusters.device)[test_clusters]
    return float((predicted != test_labels.to(predicted.device)).float().mean()), cluster_labels


def component_agreement(codes: torch.Tensor, labels: torch.Tensor, prior: Prior) -> float:
    """Fraction of 2-D codes lying nearest to the part of the prior that labels give their own
    digit: its mixture component, or its tenth of the swiss roll."""
    return float((prior.nearest_component(codes.float()) == labels.to(codes.device)).float().mean())


def digit_from_code(codes: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of images whose digit the nearest class mean of their codes names: about 10 % for
    a code that holds no digit identity. Crude on purpose: it sees only where each digit's codes
    are centred, so a score well above chance is a leak, and a low one does not prove there is
    none."""
    labels = labels.to(codes.device)
    means = torch.stack([codes[labels == d].mean(0) for d in range(N_CLASSES)])
    return float((torch.cdist(codes, means).argmin(1) == labels).float().mean())


def decode_as_every_digit(model: AdversarialAutoencoder, codes: torch.Tensor) -> torch.Tensor:
    """For a model whose decoder gets the label: each code decoded as 0, 1, ..., 9, digit-major
    (all codes as 0 first), the order ``plots.style_grid`` draws."""
    digits = torch.arange(N_CLASSES, device=codes.device).repeat_interleave(len(codes))
    with evaluation_mode(model):
        return model.decode(codes.repeat(N_CLASSES, 1), digits)


def label_agreement(
    model: AdversarialAutoencoder, judge: AdversarialAutoencoder, codes: torch.Tensor
) -> float:
    """For a model whose decoder gets the label: decode every code as each of the ten digits
    and return how often ``judge`` (a model with a trained class head) reads the digit asked for.
    Near 1 when the label decides the digit; near 0.1 when the code does."""
    images = decode_as_every_digit(model, codes)
    digits = torch.arange(N_CLASSES, device=codes.device).repeat_interleave(len(codes))
    with evaluation_mode(judge):
        if model.config.pixel_range != judge.config.pixel_range:  # [-1, 1] <-> [0, 1]
            images = (images + 1) / 2 if judge.config.pixel_range == "unit" else images * 2 - 1
        return float((judge.classify(images).argmax(1) == digits).float().mean())


def gaussian_fit(codes: torch.Tensor, generator: torch.Generator, n: int = 2000) -> dict:
    """How far codes are from N(0, I): moment errors and a kernel two-sample statistic (MMD²).

    MMD² with an RBF kernel of bandwidth 1 is near 0 for samples of the same distribution; the
    value for two independent prior samples of the same size is returned alongside as the scale.
    """
    codes = codes.float()
    ncode = codes.shape[1]
    sample = codes[
        torch.randperm(len(codes), generator=generator, device=generator.device)[:n].to(
            codes.device
        )
    ]
    prior = torch.randn(2, len(sample), ncode, generator=generator, device=generator.device).to(
        codes.device
    )
    eye = torch.eye(ncode, device=codes.device)
    return {
        "mean_error": float(codes.mean(0).norm()),
        "covariance_error": float((codes.T.cov() - eye).norm()),
        "mmd2": _mmd2(sample, prior[0]),
        "mmd2_between_prior_samples": _mmd2(prior[1], prior[0]),
    }


def prior_mmd(
    codes: torch.Tensor, prior: Prior, generator: torch.Generator, n: int = 2000
) -> dict[str, float]:
    """How far codes are from any prior: MMD² (RBF kernel, bandwidth 1) between ``n`` codes
    and ``n`` prior samples, beside MMD² between two prior samples of that size as the scale
    that sampling noise alone gives."""
    codes = codes.float()
    sample = codes[
        torch.randperm(len(codes), generator=generator, device=generator.device)[:n].to(
            codes.device
        )
    ]
    first, second = (prior.sample(len(sample), generator).to(codes.device) for _ in range(2))
    return {"mmd2": _mmd2(sample, first), "mmd2_between_prior_samples": _mmd2(second, first)}


def _mmd2(x: torch.Tensor, y: torch.Tensor) -> float:
    def kernel(a, b):
        return torch.exp(-0.5 * torch.cdist(a, b).square())

    return float(kernel(x, x).mean() + kernel(y, y).mean() - 2 * kernel(x, y).mean())


def majority_cluster_error(
    model: AdversarialAutoencoder,
    validation_images: torch.Tensor,
    validation_labels: torch.Tensor,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
) -> float:
    """Test error when each cluster takes the commonest label of its validation images: the
    best a cluster can be labelled, beside the paper's one-image rule (``cluster_error``).
    A cluster no validation image falls in counts as wrong."""
    validation = class_probabilities(model, validation_images).argmax(1)
    n = model.config.n_classes
    votes = torch.zeros(n, int(validation_labels.max()) + 1, dtype=torch.long)
    votes.index_put_(
        (validation.cpu(), validation_labels.cpu()),
        torch.ones(len(validation), dtype=torch.long),
        accumulate=True,
    )
    cluster_labels = torch.where(votes.sum(1) > 0, votes.argmax(1), -1)
    test_clusters = class_probabilities(model, test_images).argmax(1).cpu()
    return float((cluster_labels[test_clusters] != test_labels.cpu()).float().mean())


# A cluster counts as in use when it holds at least this share of the images.
CLUSTER_IN_USE_SHARE = 0.01


def clusters_in_use(model: AdversarialAutoencoder, images: torch.Tensor) -> int:
    """How many clusters hold at least ``CLUSTER_IN_USE_SHARE`` of ``images``: a collapsed
    head uses two or three of its sixteen."""
    sizes = cluster_sizes(model, images)
    return int((sizes >= CLUSTER_IN_USE_SHARE * len(images)).sum())


def summary(
    model: AdversarialAutoencoder,
    images: torch.Tensor,
    labels: torch.Tensor,
    split: str,
    classifier: bool = False,
) -> dict[str, float]:
    """The per-epoch metrics of a model, named ``metric/split`` (grouped when plotted):
    accuracy if its categorical head was trained as a ``classifier``, component agreement if
    labels chose the part of the prior for its 2-D codes, digit from the code if its decoder is
    given the label (the code should then hold style only)."""
    metrics = {f"reconstruction_error/{split}": reconstruction_error(model, images, labels)}
    if classifier:
        metrics[f"accuracy/{split}"] = accuracy(model, images, labels)
    labels_pick_components = model.config.label_conditioned and model.config.ncode == 2
    if labels_pick_components and model.prior.labels_pick_components:
        codes = encode_all(model, images)
        metrics[f"component_agreement/{split}"] = component_agreement(codes, labels, model.prior)
    if model.config.decoder_input == "code+label":
        codes = encode_all(model, images).float()
        metrics[f"digit_from_code/{split}"] = digit_from_code(codes, labels)
    return metrics
