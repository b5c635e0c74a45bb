"""The supervised-only control of Table 2: the semi-supervised model's encoder and classifier
trained on its labeled images alone, with the same optimiser, noise and schedule as its
classification phase. The gap to the semi-supervised model is what the unlabeled images, the
reconstruction and the two adversaries buy.
"""

from __future__ import annotations

import torch

from . import evaluate
from .data import MNIST, batch_indices, labeled_view
from .models import AdversarialAutoencoder
from .phases import add_input_noise, classification_loss
from .train import TrainConfig


def train_classifier_alone(config: TrainConfig, data: MNIST, epochs: int,
                           device: str | torch.device = "cpu") -> dict:
    """Train on the ``config.n_labeled`` labeled images only; pick the epoch on validation.

    Uses the same class-balanced labels (same seed) and, with ``config.validation``, the same
    50 000 / 10 000 split as the semi-supervised run. Returns the per-epoch validation and test
    accuracies, the chosen epoch and its test accuracy.
    """
    if not config.validation:
        raise ValueError("the control chooses its epoch on validation: set validation=True")
    device = torch.device(device)
    torch.manual_seed(config.seed)
    generator = torch.Generator(device).manual_seed(config.seed)
    view = labeled_view(data.to(device), config.n_labeled, True, config.seed)
    model = AdversarialAutoencoder(config.model).to(device)
    optimizer = torch.optim.SGD(model.encoder.parameters(), lr=config.phase_lr("classification"),
                                momentum=config.phase_momentum("classification"))
    images, labels = view.images[view.labeled], view.labels[view.labeled]
    history: dict[str, list[float]] = {"accuracy/validation": [], "accuracy/test": []}
    for epoch in range(epochs):
        decay = 0.1 ** sum(epoch >= m for m in config.lr_milestones)
        for group in optimizer.param_groups:
            group["lr"] = config.phase_lr("classification") * decay
        model.train()
        for index in batch_indices(len(images), config.batch_size, generator, device):
            inputs = add_input_noise(model.prepare(images[index]), config.noise_std,
                                     config.model.pixel_range)
            loss = classification_loss(model, inputs, labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        history["accuracy/validation"].append(
            evaluate.accuracy(model, view.validation_images, view.validation_labels))
        history["accuracy/test"].append(
            evaluate.accuracy(model, view.test_images, view.test_labels))
    best = max(range(epochs), key=history["accuracy/validation"].__getitem__)
    return {**history, "chosen_epoch": best, "test_accuracy": history["accuracy/test"][best]}


__all__ = ["train_classifier_alone"]
