"""The command line's figures, under the reference's file names.

``--generate`` draws samples: ``generate_im.png`` (400 images from the prior), or
``sample_style.png`` for the models whose decoder is told the digit (supervised, semi-supervised):
one row per digit, one column per shared style code. ``--viz`` draws what the encoder learned:
``latent.png`` (test codes, 2-D models) with the manifold images, and for the semi-supervised
classifier ``confusion_matrix.png``. During training the same figures, less the manifolds, are
written every ``--viz_every`` epochs with the epoch in their name (``generate_im_9.png``).

Every drawing takes its prior samples from a generator of its own, seeded from the run's seed,
so figures drawn during training leave the training's random stream untouched (a resumed run
stays bit-identical to an uninterrupted one), and successive epochs show the same codes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from .. import evaluate
from ..book import plots
from ..data import N_CLASSES
from ..errors import AAEError
from ..models import AdversarialAutoencoder
from ..train import Trainer

SAMPLE_GRID = 20  # generate_im.png is 20 x 20 samples, sample_style.png 20 styles per digit


def save(figure: Figure, path: Path) -> str:
    """Write ``figure``; a full disk or a dead folder is one line naming the file."""
    try:
        plots.save_figure(figure, path)
    except OSError as error:
        raise AAEError(f"could not write figure {path}: {error.strerror or error}") from None
    return path.name


def figure_generator(trainer: Trainer) -> torch.Generator:
    return torch.Generator(trainer.device).manual_seed(trainer.config.seed)


def draw_samples(trainer: Trainer, folder: Path, suffix: str = "") -> list[str]:
    """``generate_im`` or, where the decoder is told the digit, ``sample_style``."""
    model, generator = trainer.model, figure_generator(trainer)
    pixel_range = model.config.pixel_range
    with evaluate.evaluation_mode(model):
        if model.config.decoder_input != "code":
            codes = model.prior.sample(SAMPLE_GRID, generator).repeat(N_CLASSES, 1)
            digits = torch.arange(N_CLASSES, device=codes.device).repeat_interleave(SAMPLE_GRID)
            figure = plots.style_grid(model.decode(codes, digits), N_CLASSES, pixel_range)
            return [save(figure, folder / f"sample_style{suffix}.png")]
        count = SAMPLE_GRID * SAMPLE_GRID
        labels = None
        if model.config.label_conditioned:  # row r shows mixture component r mod 10
            labels = (torch.arange(count, device=trainer.device) // SAMPLE_GRID) % N_CLASSES
        figure = plots.image_grid(model.sample(count, generator, labels), SAMPLE_GRID, pixel_range)
        return [save(figure, folder / f"generate_im{suffix}.png")]


def draw_codes(
    trainer: Trainer, folder: Path, title: str, suffix: str = "", manifolds: bool = True
) -> list[str]:
    """The test set's 2-D codes (and the decoder's manifolds), and the classifier's confusion
    matrix; what applies to the model."""
    model, written = trainer.model, []
    with evaluate.evaluation_mode(model):
        if model.config.ncode == 2:
            codes = evaluate.encode_all(model, trainer.eval_images)
            figure = plots.latent_scatter(
                codes, trainer.eval_labels, title=f"test-set codes, {title}"
            )
            written.append(save(figure, folder / f"latent{suffix}.png"))
            if manifolds and model.config.decoder_input == "code":
                written += draw_manifolds(model, folder)
        if trainer.config.classify:
            counts = evaluate.confusion_counts(model, trainer.eval_images, trainer.eval_labels)
            written.append(
                save(confusion_figure(counts, title), folder / f"confusion_matrix{suffix}.png")
            )
    return written


def draw_manifolds(model: AdversarialAutoencoder, folder: Path) -> list[str]:
    """The reference's manifold images: one grid, or one per mixture component."""
    device = next(model.parameters()).device
    return [
        save(
            plots.image_grid(model.decode(grid.to(device)), SAMPLE_GRID, model.config.pixel_range),
            folder / f"{name}.png",
        )
        for name, grid in model.prior.manifold_grids().items()
    ]


def confusion_figure(counts: torch.Tensor, title: str) -> Figure:
    """Rows: true digits; columns: predicted classes; shade: fraction of the row, so every
    digit's errors show whatever its share of the test set; each cell gives its count."""
    counts = counts.numpy()
    fractions = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    figure = Figure(figsize=(5.6, 4.8), layout="constrained")
    ax = figure.add_subplot()
    image = ax.imshow(fractions, cmap="Blues", vmin=0, vmax=1)
    for (row, column), count in np.ndenumerate(counts):
        if count:
            colour = "white" if fractions[row, column] > 0.5 else "black"
            ax.text(
                column, row, str(count), ha="center", va="center", fontsize="x-small", color=colour
            )
    ax.set_xticks(range(counts.shape[1]))
    ax.set_yticks(range(counts.shape[0]))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true digit")
    ax.set_title(f"test accuracy {accuracy:.2%}, {title}")
    figure.colorbar(image, ax=ax, label="fraction of the digit's test images")
    return figure
