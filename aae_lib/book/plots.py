"""Figures of the reproduction: latent scatters, image mosaics, style grids and learning curves.

Every function accepts torch tensors (on any device) or numpy arrays, returns a matplotlib
Figure and, given ``path``, also writes it as an image. Figures are made through pyplot so that
Jupyter's inline backend renders them, then closed at once so that scripts producing hundreds
of figures never pile them up in pyplot's registry; a closed figure still draws and saves.
"""

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import BoundaryNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..data import IMAGE_SIDE, IMAGE_SIZE, N_CLASSES, PixelRange, check_pixel_range
from ..files import atomic_output

Array = torch.Tensor | np.ndarray
PathLike = str | os.PathLike[str]

SAVE_DPI = 150
# White 1-pixel gaps keep neighbouring black-background digits apart without wasting space.
GAP_PIXELS = 1
GAP_VALUE = 1.0
TITLE_INCHES = 0.35
LINE_STYLES = ("-", "--", ":", "-.")
# Dash patterns for reference values, distinct from each other and from solid data lines.
REFERENCE_STYLES = ("--", ":", "-.")


def save_figure(fig: Figure, path: PathLike) -> Path:
    """Write ``fig`` to ``path``, creating parent folders; PNG unless the suffix names another.

    The file appears whole or not at all: a full disk never leaves a truncated image behind.
    """
    path = Path(path)
    # An explicit format lets a suffix-less path still become a PNG at exactly that name.
    image_format = path.suffix.lstrip(".").lower() or "png"
    with atomic_output(path) as output:
        fig.savefig(
            output, dpi=SAVE_DPI, format=image_format, bbox_inches="tight", facecolor="white"
        )
    return path


def latent_scatter(
    codes: Array,
    labels: Array | None = None,
    limit: float = 3.5,
    title: str | None = None,
    path: PathLike | None = None,
    prior_samples: Array | None = None,
    colour_label: str = "digit",
) -> Figure:
    """Scatter 2-D codes coloured by a class 0-9 (``colour_label`` names it on the colour bar),
    to see whether the encoder matched the prior."""
    points = _as_points(codes, "codes")
    fig = _new_figure(figsize=(5.6, 4.8), layout="constrained")
    ax = fig.add_subplot()
    if prior_samples is not None:
        prior_points = _as_points(prior_samples, "prior_samples")
        ax.scatter(
            prior_points[:, 0],
            prior_points[:, 1],
            s=2,
            color="0.6",
            alpha=0.25,
            linewidths=0,
            label="prior samples",
        )
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=2, color="tab:blue", alpha=0.6, linewidths=0)
    else:
        digits = _as_digit_labels(labels, len(points))
        colour_map = matplotlib.colormaps["tab10"]
        # Boundaries centred on the integers make the colour bar read as ten discrete swatches.
        digit_norm = BoundaryNorm(np.arange(-0.5, N_CLASSES), colour_map.N)
        ax.scatter(
            points[:, 0],
            points[:, 1],
            c=digits,
            cmap=colour_map,
            norm=digit_norm,
            s=2,
            alpha=0.6,
            linewidths=0,
        )
        # A separate opaque mappable keeps the scatter's transparency out of the colour bar.
        colour_bar = fig.colorbar(
            ScalarMappable(norm=digit_norm, cmap=colour_map), ax=ax, ticks=range(N_CLASSES)
        )
        colour_bar.set_label(colour_label)
    if prior_samples is not None:
        ax.legend(loc="upper right", markerscale=4, fontsize="small")
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    return _finish(fig, path)


def image_grid(
    images: Array,
    nrow: int,
    pixel_range: PixelRange = "signed",
    title: str | None = None,
    path: PathLike | None = None,
    cell_inches: float = 0.35,
) -> Figure:
    """Tile images into one grayscale mosaic: one imshow stays fast even for 20x20 manifolds."""
    pixels = _as_images(images, pixel_range, "image_grid")
    if nrow < 1 or len(pixels) % nrow:
        raise ValueError(
            f"image_grid: {len(pixels)} images cannot fill {nrow} rows evenly; "
            "nrow must be a positive divisor of the number of images"
        )
    ncol = len(pixels) // nrow
    grid_height = nrow * cell_inches
    title_height = TITLE_INCHES if title else 0.0
    fig = _new_figure(figsize=(ncol * cell_inches, grid_height + title_height))
    # Hand-placed axes: the mosaic fills the figure instead of sitting in default margins.
    ax = fig.add_axes((0.0, 0.0, 1.0, grid_height / (grid_height + title_height)))
    _show_mosaic(ax, _tile(pixels, nrow))
    ax.set_axis_off()
    if title:
        fig.suptitle(title, y=1.0 - title_height / 2 / (grid_height + title_height), va="center")
    return _finish(fig, path)


def manifold_grid(
    images: Array,
    z1: Array,
    z2: Array,
    pixel_range: PixelRange = "signed",
    title: str | None = None,
    path: PathLike | None = None,
    cell_inches: float = 0.3,
    n_ticks: int = 5,
) -> Figure:
    """A decoded grid of codes with its coordinates on the axes.

    ``images`` are row-major: row ``r`` decodes ``z2[r]``, column ``c`` decodes ``z1[c]``
    (``linear_grid`` and ``percentile_grid`` put the largest ``z2`` in the top row).
    """
    z1_values, z2_values = _to_numpy(z1).reshape(-1), _to_numpy(z2).reshape(-1)
    pixels = _as_images(images, pixel_range, "manifold_grid")
    if len(pixels) != len(z1_values) * len(z2_values):
        raise ValueError(
            f"manifold_grid: {len(pixels)} images for a {len(z2_values)}x{len(z1_values)} grid"
        )
    nrow, ncol = len(z2_values), len(z1_values)
    fig = _new_figure(
        figsize=(
            ncol * cell_inches + 0.9,
            nrow * cell_inches + 0.7 + (TITLE_INCHES if title else 0),
        ),
        layout="constrained",
    )
    ax = fig.add_subplot()
    _show_mosaic(ax, _tile(pixels, nrow))
    tile_height, tile_width = pixels.shape[1:]
    _label_tiles(ax.xaxis, tile_width, z1_values, n_ticks)
    _label_tiles(ax.yaxis, tile_height, z2_values, n_ticks)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    return _finish(fig, path)


def labelled_tiles(
    images: Array,
    labels: Sequence[str],
    ncol: int,
    pixel_range: PixelRange = "signed",
    title: str | None = None,
    path: PathLike | None = None,
    tile_inches: float = 0.9,
) -> Figure:
    """Images large enough to read, each with its own caption (e.g. "4, true 9")."""
    pixels = _as_images(images, pixel_range, "labelled_tiles")
    if len(labels) != len(pixels):
        raise ValueError(f"labelled_tiles: {len(labels)} labels for {len(pixels)} images")
    if ncol < 1:
        raise ValueError(f"labelled_tiles: ncol must be positive, got {ncol}")
    nrow = math.ceil(len(pixels) / ncol)
    fig = _new_figure(
        figsize=(ncol * tile_inches, nrow * (tile_inches + 0.25) + (TITLE_INCHES if title else 0)),
        layout="constrained",
    )
    axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
    for index, ax in enumerate(axes):
        ax.set_axis_off()
        if index < len(pixels):
            _show_mosaic(ax, pixels[index])
            ax.set_title(labels[index], fontsize="small")
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def style_transfer_grid(
    sources: Array,
    transferred: Array,
    source_labels: Sequence[str] | None = None,
    pixel_range: PixelRange = "signed",
    title: str | None = None,
    path: PathLike | None = None,
    tile_inches: float = 0.75,
) -> Figure:
    """One row per source image: the source, set apart, then its code decoded as 0 ... 9.

    ``transferred[i * n + d]`` is source ``i`` drawn as class ``d`` of ``n``.
    """
    source_pixels = _as_images(sources, pixel_range, "style_transfer_grid")
    transferred_pixels = _as_images(transferred, pixel_range, "style_transfer_grid")
    n_sources = len(source_pixels)
    if len(transferred_pixels) % n_sources:
        raise ValueError(
            f"style_transfer_grid: {len(transferred_pixels)} decoded images do not split into "
            f"{n_sources} rows"
        )
    n_classes = len(transferred_pixels) // n_sources
    if source_labels is not None and len(source_labels) != n_sources:
        raise ValueError(
            f"style_transfer_grid: {len(source_labels)} source labels for {n_sources} sources"
        )
    # A narrow empty column keeps the real images apart from the decoded ones.
    gap = 0.35
    fig = _new_figure(
        figsize=(
            (n_classes + 1 + gap) * tile_inches + 0.6,
            n_sources * tile_inches + 0.4 + (TITLE_INCHES if title else 0),
        ),
        layout="constrained",
    )
    grid = fig.add_gridspec(n_sources, n_classes + 2, width_ratios=[1, gap] + [1] * n_classes)
    for row in range(n_sources):
        source_ax = fig.add_subplot(grid[row, 0])
        _show_mosaic(source_ax, source_pixels[row])
        source_ax.set_xticks([])
        source_ax.set_yticks([])
        for side in source_ax.spines.values():
            side.set_color("tab:red")
            side.set_linewidth(2)
        if source_labels is not None:
            source_ax.set_ylabel(source_labels[row], fontsize="small")
        if row == 0:
            source_ax.set_title("source", fontsize="small", color="tab:red")
        for digit in range(n_classes):
            ax = fig.add_subplot(grid[row, digit + 2])
            _show_mosaic(ax, transferred_pixels[row * n_classes + digit])
            ax.set_axis_off()
            if row == 0:
                ax.set_title(f"as {digit}", fontsize="small")
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def style_grid(
    images: Array,
    n_digits: int = N_CLASSES,
    pixel_range: PixelRange = "signed",
    transpose: bool = False,
    path: PathLike | None = None,
    title: str | None = None,
) -> Figure:
    """Show digits against shared style codes; a disentangled model keeps each z's style constant.

    ``images[d * n_styles + s]`` is digit ``d`` drawn with style ``s``. By default digits run down
    the rows as in the reference README; ``transpose`` puts one style per row as in the paper.
    """
    pixels = _as_images(images, pixel_range, "style_grid")
    if n_digits < 1 or len(pixels) % n_digits:
        raise ValueError(
            f"style_grid: {len(pixels)} images do not split into {n_digits} digits; "
            "expected n_digits * n_styles images ordered digit-major"
        )
    n_styles = len(pixels) // n_digits
    by_digit = pixels.reshape(n_digits, n_styles, *pixels.shape[1:])
    row_labels = [f"digit {digit}" for digit in range(n_digits)]
    column_labels = [f"z #{style + 1}" for style in range(n_styles)]
    if transpose:
        by_digit = by_digit.swapaxes(0, 1)
        row_labels, column_labels = column_labels, row_labels
    nrow, ncol = by_digit.shape[:2]
    cell_inches = 0.5
    fig = _new_figure(
        figsize=(
            ncol * cell_inches + 0.9,
            nrow * cell_inches + 0.5 + (TITLE_INCHES if title else 0),
        ),
        layout="constrained",
    )
    ax = fig.add_subplot()
    _show_mosaic(ax, _tile(by_digit.reshape(-1, *pixels.shape[1:]), nrow))
    tile_height, tile_width = pixels.shape[1:]
    ax.set_yticks(_tile_centres(nrow, tile_height), row_labels, fontsize="small")
    ax.set_xticks(_tile_centres(ncol, tile_width), column_labels, fontsize="small")
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    ax.spines[:].set_visible(False)
    if title:
        ax.set_title(title)
    return _finish(fig, path)


def component_manifolds(
    images_per_component: Iterable[Array],
    pixel_range: PixelRange = "signed",
    path: PathLike | None = None,
    title: str | None = None,
    along: Array | None = None,
    across: Array | None = None,
) -> Figure:
    """One square mosaic per mixture component, to check that each component holds one digit.

    ``along`` and ``across`` are the offsets of the grid's rows (along the component's arm) and
    columns (across it); given, they label the axes of the panels on the figure's edges.
    """
    mosaics = []
    for component, images in enumerate(images_per_component):
        pixels = _as_images(images, pixel_range, f"component_manifolds[{component}]")
        side = math.isqrt(len(pixels))
        if side * side != len(pixels):
            raise ValueError(
                f"component_manifolds: component {component} has {len(pixels)} images, "
                "which is not a square number n*n"
            )
        mosaics.append(_tile(pixels, side))
    if not mosaics:
        raise ValueError("component_manifolds: got no components")
    ncols = min(len(mosaics), 5)
    nrows = math.ceil(len(mosaics) / ncols)
    fig = _new_figure(
        figsize=(ncols * 2.6, nrows * 2.8 + (TITLE_INCHES if title else 0)), layout="constrained"
    )
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for component, ax in enumerate(axes):
        if component >= len(mosaics):
            ax.set_axis_off()
            continue
        _show_mosaic(ax, mosaics[component])
        ax.set_title(f"component {component}", fontsize="medium")
        row, column = divmod(component, ncols)
        if along is None or across is None:
            ax.set_axis_off()
            continue
        tile_size = (mosaics[component].shape[0] + GAP_PIXELS) // len(_to_numpy(along)) - GAP_PIXELS
        # The two ends only: a middle tile of an even grid sits off the arm's centre.
        _label_tiles(ax.yaxis, tile_size, _to_numpy(along).reshape(-1), 2)
        _label_tiles(ax.xaxis, tile_size, _to_numpy(across).reshape(-1), 2)
        ax.tick_params(
            labelleft=column == 0,
            labelbottom=component + ncols >= len(mosaics),
            labelsize="x-small",
        )
        if column == 0:
            ax.set_ylabel("along the arm", fontsize="small")
        if component + ncols >= len(mosaics):
            ax.set_xlabel("across", fontsize="small")
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def learning_curves(
    history: Mapping[str, Sequence[float]],
    keys: list[str] | None = None,
    path: PathLike | None = None,
    ylabel: str | None = None,
    *,
    references: Mapping[str, float] | None = None,
    title: str | None = None,
    colour_by: Sequence[str] | None = None,
    style_by: Sequence[str] | None = None,
    lr_milestones: Sequence[int] = (),
) -> Figure:
    """Per-epoch metrics, one axis per group prefix ("loss/...", "accuracy/...").

    ``ylabel`` replaces the group name on every axis. Accuracy groups whose values all lie in
    [0, 1] are shown in percent; ``references`` (label -> value on the same scale as the history)
    are drawn in grey on every accuracy axis, each in its own dash pattern.

    A colour means one thing in the whole figure: by default each distinct line label gets its
    own colour; with ``colour_by`` (words such as model names) a line takes the colour of the
    first word its label contains, and with ``style_by`` (words such as "discriminator",
    "generator") the line style of the first word it contains.

    ``lr_milestones`` are a config's ``lr_milestones``: a dotted line between epoch m and m + 1
    marks where the learning rate fell tenfold, so a reader can tell a step the schedule caused
    from one the model found (milestones past the plotted epochs are left out).
    """
    keys = list(history) if keys is None else keys
    if not keys:
        raise ValueError("learning_curves: nothing to plot, history or keys is empty")
    missing = [key for key in keys if key not in history]
    if missing:
        raise ValueError(f"learning_curves: keys {missing} are not in history {sorted(history)}")
    groups: dict[str, list[str]] = {}
    for key in keys:
        groups.setdefault(key.split("/", 1)[0], []).append(key)
    accuracy_groups = [group for group in groups if "accuracy" in group.lower()]
    if references and not accuracy_groups:
        raise ValueError("learning_curves: references need an accuracy group in history")

    line_labels = [key.split("/", 1)[1] if "/" in key else key for key in keys]
    colour_names = list(colour_by) if colour_by else list(dict.fromkeys(line_labels))
    colours = matplotlib.colormaps["tab10"].colors

    def line_colour(label: str) -> object:
        if colour_by is None:
            return colours[colour_names.index(label) % len(colours)]
        for index, word in enumerate(colour_names):
            if word in label:
                return colours[index % len(colours)]
        return "black"

    def line_style(label: str) -> str:
        for index, word in enumerate(style_by or ()):
            if word in label:
                return LINE_STYLES[index % len(LINE_STYLES)]
        return "-"

    fig = _new_figure(
        figsize=(6.4, 2.6 * len(groups) + 0.4 + (TITLE_INCHES if title else 0)),
        layout="constrained",
    )
    axes = fig.subplots(len(groups), 1, sharex=True, squeeze=False).ravel()
    for ax, (group, group_keys) in zip(axes, groups.items(), strict=True):
        series = {key: np.asarray(_to_numpy(history[key]), dtype=float) for key in group_keys}
        scale = 100.0 if group in accuracy_groups and _all_fractions(series.values()) else 1.0
        for key, values in series.items():
            epochs = np.arange(1, len(values) + 1)
            # Markers keep short runs (a single epoch is a single point) visible.
            marker = "o" if len(values) <= 30 else None
            line_label = key.split("/", 1)[1] if "/" in key else key
            ax.plot(
                epochs,
                values * scale,
                marker=marker,
                markersize=3,
                label=line_label,
                color=line_colour(line_label),
                linestyle=line_style(line_label),
            )
        if group in accuracy_groups:
            for index, (reference_label, value) in enumerate((references or {}).items()):
                ax.axhline(
                    value * scale,
                    linestyle=REFERENCE_STYLES[index % len(REFERENCE_STYLES)],
                    color="0.35",
                    linewidth=1.2,
                    label=reference_label,
                )
        last_epoch = max(len(values) for values in series.values())
        for index, milestone in enumerate(m for m in lr_milestones if m < last_epoch):
            ax.axvline(
                milestone + 0.5,
                color="0.35",
                linestyle=":",
                linewidth=1.2,
                label="learning rate ÷10" if index == 0 else None,
            )
        ax.set_ylabel(ylabel or (f"{group} (%)" if scale == 100.0 else group))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    axes[-1].set_xlabel("epoch")
    # min_n_ticks=1 stops a one-epoch run falling back to fractional epoch ticks.
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def _new_figure(**figure_kwargs: object) -> Figure:
    """A pyplot figure (so Jupyter's inline backend can render it) already closed in pyplot."""
    fig = plt.figure(**figure_kwargs)
    plt.close(fig)
    return fig


def _finish(fig: Figure, path: PathLike | None) -> Figure:
    if path is not None:
        save_figure(fig, path)
    return fig


def _to_numpy(values: Array | Sequence[float]) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu()
        # numpy has no bfloat16; float32 is exact enough for any plot.
        return (values.float() if values.is_floating_point() else values).numpy()
    return np.asarray(values)


def _as_points(values: Array, name: str) -> np.ndarray:
    points = _to_numpy(values).astype(float)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(
            f"latent_scatter: {name} must be 2-D points of shape (N, 2), got shape "
            f"{tuple(points.shape)}; only 2-D latent codes can be scattered"
        )
    return points


def _as_digit_labels(labels: Array, n_points: int) -> np.ndarray:
    digits = _to_numpy(labels).reshape(-1)
    if len(digits) != n_points:
        raise ValueError(f"latent_scatter: {len(digits)} labels for {n_points} codes")
    if len(digits) and (
        np.any(digits != np.round(digits)) or digits.min() < 0 or digits.max() >= N_CLASSES
    ):
        raise ValueError(f"latent_scatter: labels must be integers 0..{N_CLASSES - 1}")
    return digits.astype(int)


def _as_images(images: Array, pixel_range: PixelRange, caller: str) -> np.ndarray:
    """(N, H, W) in [0, 1] from (N, H*W) with square images, (N, H, W) or (N, 1, H, W)."""
    check_pixel_range(pixel_range, caller)
    pixels = _to_numpy(images).astype(np.float32)
    shape = tuple(pixels.shape)
    if pixels.ndim == 2 and math.isqrt(shape[1]) ** 2 == shape[1]:
        side = math.isqrt(shape[1])
        pixels = pixels.reshape(len(pixels), side, side)
    elif pixels.ndim == 4 and shape[1] == 1:
        pixels = pixels[:, 0]
    elif pixels.ndim != 3:
        raise ValueError(
            f"{caller}: images must have shape (N, {IMAGE_SIZE}), (N, {IMAGE_SIDE}, {IMAGE_SIDE}) "
            f"or (N, 1, {IMAGE_SIDE}, {IMAGE_SIDE}) "
            f"(any square size), got {shape}"
        )
    if len(pixels) == 0 or pixels.shape[1] == 0:
        raise ValueError(f"{caller}: got no images (shape {shape})")
    if pixel_range == "signed":
        pixels = (pixels + 1.0) / 2.0
    return np.clip(pixels, 0.0, 1.0)


def _tile(pixels: np.ndarray, nrow: int) -> np.ndarray:
    """Row-major mosaic of (N, H, W) images with ``GAP_PIXELS`` between tiles, none outside."""
    count, height, width = pixels.shape
    ncol = count // nrow
    padded = np.pad(
        pixels.reshape(nrow, ncol, height, width),
        ((0, 0), (0, 0), (0, GAP_PIXELS), (0, GAP_PIXELS)),
        constant_values=GAP_VALUE,
    )
    mosaic = padded.transpose(0, 2, 1, 3).reshape(nrow * (height + GAP_PIXELS), -1)
    return mosaic[:-GAP_PIXELS, :-GAP_PIXELS]


def _tile_centres(count: int, tile_size: int) -> np.ndarray:
    return np.arange(count) * (tile_size + GAP_PIXELS) + (tile_size - 1) / 2


def _label_tiles(axis, tile_size: int, values: np.ndarray, n_ticks: int) -> None:
    """Ticks at ``n_ticks`` evenly spread tile centres along ``axis``, labelled with values."""
    spread = np.linspace(0, len(values) - 1, min(n_ticks, len(values)))
    chosen = np.unique(spread.round().astype(int))
    centres = _tile_centres(len(values), tile_size)[chosen]
    axis.set_ticks(centres, [f"{values[i]:.1f}" for i in chosen])


def _show_mosaic(ax: Axes, mosaic: np.ndarray) -> None:
    ax.imshow(mosaic, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")


def _all_fractions(series: Iterable[np.ndarray]) -> bool:
    finite = np.concatenate([values[np.isfinite(values)] for values in series])
    return bool(finite.size) and bool(np.all((finite >= 0.0) & (finite <= 1.0)))
