"""Architecture diagrams drawn from a ``ModelConfig``: what enters each network.

The diagram is derived from the configuration the trainer runs, so it cannot drift from the
model: a decoder fed the label gets a label arrow, a categorical head gets its own adversary.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from ..models import ModelConfig

NETWORK = "#dbe9f6"
ADVERSARY = "#f9dcc4"
DATA = "#ffffff"
HALF_HEIGHT = 0.3  # of every box, in axis units
GAP = 1.12  # arrows start and end this far outside a box, relative to its half size


def architecture(config: ModelConfig, title: str = "") -> Figure:
    """A block diagram of the model: encoder, decoder, and one discriminator per adversary."""
    fig, ax = plt.subplots(figsize=(8.5, 3.6 if config.n_classes else 3.0))
    plt.close(fig)  # returned, not also drawn by the inline backend: one diagram per cell
    ax.set_xlim(0, 10.3)
    ax.set_ylim(-1.6 if config.n_classes else -0.6, 2.6)
    ax.axis("off")
    boxes: dict[str, tuple[float, float, float]] = {}  # centre x, centre y, width

    def box(name, x, y, text, colour, width=1.5):
        ax.add_patch(
            FancyBboxPatch(
                (x - width / 2, y - HALF_HEIGHT),
                width,
                2 * HALF_HEIGHT,
                boxstyle="round,pad=0.05",
                fc=colour,
                ec="#333",
            )
        )
        ax.text(x, y, text, ha="center", va="center", fontsize=9)
        boxes[name] = (x, y, width)

    def edge(name, towards):
        """Where the line from a box's centre towards a point leaves the box."""
        x, y, width = boxes[name]
        dx, dy = towards[0] - x, towards[1] - y
        scale = min(
            width / 2 / abs(dx) if dx else float("inf"),
            HALF_HEIGHT / abs(dy) if dy else float("inf"),
        )
        return x + dx * scale * GAP, y + dy * scale * GAP

    def arrow(start, end, text=""):
        start_xy, end_xy = boxes[start][:2], boxes[end][:2]
        x0, y0 = edge(start, end_xy)
        x1, y1 = edge(end, start_xy)
        ax.add_patch(
            FancyArrowPatch(
                (x0, y0),
                (x1, y1),
                arrowstyle="-|>",
                mutation_scale=12,
                shrinkA=0,
                shrinkB=0,
                color="#333",
            )
        )
        if text:
            ax.text((x0 + x1) / 2, (y0 + y1) / 2 + 0.1, text, ha="center", fontsize=8, color="#555")

    box("x", 0.8, 1.0, "image x", DATA, 1.2)
    box("encoder", 2.8, 1.0, "encoder q", NETWORK)
    box("z", 4.8, 1.0, f"code z ({config.ncode}-D)", DATA, 1.6)
    box("decoder", 6.9, 1.0, "decoder p", NETWORK)
    box("x_hat", 8.9, 1.0, "reconstruction", DATA, 1.5)
    arrow("x", "encoder")
    arrow("encoder", "z")
    arrow("z", "decoder")
    arrow("decoder", "x_hat")
    if config.n_classes:
        box("y", 4.8, -0.9, f"softmax y ({config.n_classes})", DATA, 1.6)
        arrow("encoder", "y")
    if config.decoder_input == "code+label":
        box("digit", 6.9, -0.2, "digit (one-hot)", DATA, 1.5)
        arrow("digit", "decoder")
    if config.decoder_reads_class:  # concatenated to z, or as its cluster head added to z
        arrow("y", "decoder", "z + W·y" if config.decoder_input == "cluster_heads" else "")
    for adversary in config.adversaries:
        judged = adversary.judges
        row = 2.2 if judged == "z" else -0.9
        column = 7.2
        name = f"D_{judged}"
        box(name, column, row, f"discriminator D_{judged}", ADVERSARY, 2.0)
        arrow(judged, name, "fake")
        prior = f"{config.prior} prior" if judged == "z" else f"one-hot ({config.n_classes})"
        box(f"prior_{judged}", 9.55, row, prior, DATA, 1.3)
        arrow(f"prior_{judged}", name, "real")
        if adversary.sees_label:
            box("label", 4.8, 2.2, "label or 'unlabeled'", DATA, 1.7)
            arrow("label", name)
    ax.set_title(title or "Architecture", fontsize=11)
    fig.tight_layout()
    return fig


__all__ = ["architecture"]
