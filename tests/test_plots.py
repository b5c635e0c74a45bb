"""Figures must show the data faithfully, save readable PNGs and never leak into pyplot."""

from collections.abc import Callable
from pathlib import Path

import matplotlib
import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from aae_lib.book import plots
from aae_lib.data import IMAGE_SIDE, IMAGE_SIZE, N_CLASSES

matplotlib.use("Agg")

TILE = IMAGE_SIDE
STEP = TILE + 1  # one tile plus its 1-pixel gap


@pytest.fixture(autouse=True)
def no_figures_left_in_pyplot():
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before, "a plot function left a figure open in pyplot"


def mosaic_of(fig: Figure, axes_index: int = 0) -> np.ndarray:
    return np.asarray(fig.axes[axes_index].images[0].get_array())


def tile_at(mosaic: np.ndarray, row: int, col: int) -> np.ndarray:
    return mosaic[row * STEP : row * STEP + TILE, col * STEP : col * STEP + TILE]


def unit_images(count: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(count, TILE * TILE, generator=torch.Generator().manual_seed(seed))


def constant_images(values: torch.Tensor) -> torch.Tensor:
    """Image i is filled with values[i], so a tile's value tells which image landed there."""
    return values[:, None].expand(-1, TILE * TILE).clone()


def read_png(path: Path) -> np.ndarray:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return matplotlib.image.imread(path)


# image_grid


def test_image_grid_places_images_row_major_with_white_gaps():
    images = unit_images(6)
    mosaic = mosaic_of(plots.image_grid(images, nrow=2, pixel_range="unit"))
    assert mosaic.shape == (2 * STEP - 1, 3 * STEP - 1)
    for index in range(6):
        row, col = divmod(index, 3)
        np.testing.assert_allclose(tile_at(mosaic, row, col), images[index].view(TILE, TILE))
    assert np.all(mosaic[TILE, :] == 1.0)
    assert np.all(mosaic[:, TILE] == 1.0)


def test_image_grid_maps_signed_pixels_to_unit_range_and_clips():
    images = torch.full((4, TILE, TILE), -1.0)
    images[1] = 1.0
    images[2] = 0.0
    images[3] = 5.0
    mosaic = mosaic_of(plots.image_grid(images, nrow=1, pixel_range="signed"))
    tile_values = [float(tile_at(mosaic, 0, col).mean()) for col in range(4)]
    assert tile_values == [0.0, 1.0, 0.5, 1.0]


def test_image_grid_accepts_channel_dim_numpy_and_grad_tensors():
    images = unit_images(4).view(4, 1, TILE, TILE)
    expected = mosaic_of(plots.image_grid(images.numpy(), nrow=2, pixel_range="unit"))
    with_grad = images.clone().requires_grad_(True)
    np.testing.assert_array_equal(
        mosaic_of(plots.image_grid(with_grad, nrow=2, pixel_range="unit")), expected
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_image_grid_accepts_gpu_tensors():
    images = unit_images(4)
    np.testing.assert_array_equal(
        mosaic_of(plots.image_grid(images.cuda(), nrow=2, pixel_range="unit")),
        mosaic_of(plots.image_grid(images, nrow=2, pixel_range="unit")),
    )


@pytest.mark.parametrize(
    ("images", "nrow", "pixel_range", "message"),
    [
        (torch.zeros(4, 783), 2, "signed", r"shape \(N, 784\)"),
        (torch.zeros(4, 3, TILE, TILE), 2, "signed", r"shape \(N, 784\)"),
        (torch.zeros(784), 1, "signed", r"shape \(N, 784\)"),
        (torch.zeros(0, IMAGE_SIZE), 1, "signed", "no images"),
        (torch.zeros(3, 0), 1, "signed", "no images"),
        (torch.zeros(6, IMAGE_SIZE), 4, "signed", "cannot fill 4 rows"),
        (torch.zeros(6, IMAGE_SIZE), 0, "signed", "cannot fill 0 rows"),
        (torch.zeros(6, IMAGE_SIZE), 2, "0-255", "pixel_range must be one of"),
    ],
)
def test_image_grid_rejects_bad_input(images, nrow, pixel_range, message):
    with pytest.raises(ValueError, match=message):
        plots.image_grid(images, nrow=nrow, pixel_range=pixel_range)


def test_image_grid_saved_png_is_square_for_square_grid(tmp_path):
    path = tmp_path / "nested" / "dir" / "manifold.png"
    plots.image_grid(unit_images(16), nrow=4, pixel_range="unit", path=path)
    pixels = read_png(path)
    height, width = pixels.shape[:2]
    assert abs(height - width) <= 0.05 * width
    assert width >= 4 * TILE, "the mosaic should not be shrunk below its native resolution"
    assert pixels[..., :3].std() > 0.1


def test_image_grid_title_is_shown():
    fig = plots.image_grid(unit_images(4), nrow=2, title="random samples")
    assert fig.get_suptitle() == "random samples"


# latent_scatter


def test_latent_scatter_colours_points_by_digit_with_discrete_colour_bar():
    codes = torch.randn(50, 2)
    labels = 2 + torch.arange(50) % 4  # a subset, so colours must not be rescaled to it
    fig = plots.latent_scatter(codes, labels, limit=2.5, title="test set")
    ax, colour_bar_ax = fig.axes
    (points,) = ax.collections
    np.testing.assert_allclose(points.get_offsets(), codes.numpy(), rtol=1e-6)
    tab10 = matplotlib.colormaps["tab10"]
    np.testing.assert_allclose(
        points.to_rgba(points.get_array())[:, :3], tab10(labels.numpy())[:, :3]
    )
    assert [int(tick) for tick in colour_bar_ax.get_yticks()] == list(range(10))
    assert ax.get_xlim() == (-2.5, 2.5)
    assert ax.get_ylim() == (-2.5, 2.5)
    assert ax.get_aspect() == 1.0
    assert ax.get_title() == "test set"


def test_latent_scatter_draws_prior_samples_beneath_the_codes():
    prior = np.random.default_rng(0).normal(size=(30, 2))
    fig = plots.latent_scatter(torch.randn(20, 2), torch.zeros(20), prior_samples=prior)
    prior_points, codes = fig.axes[0].collections
    assert len(prior_points.get_offsets()) == 30
    assert len(codes.get_offsets()) == 20
    assert prior_points.get_label() == "prior samples"


def test_latent_scatter_without_labels_has_no_colour_bar():
    fig = plots.latent_scatter(np.zeros((5, 2)))
    assert len(fig.axes) == 1


@pytest.mark.parametrize(
    ("codes", "labels", "prior", "message"),
    [
        (torch.zeros(5, 3), None, None, r"codes must be 2-D points of shape \(N, 2\)"),
        (torch.zeros(10), None, None, r"codes must be 2-D points of shape \(N, 2\)"),
        (torch.zeros(5, 2), None, torch.zeros(5, 8), "prior_samples must be 2-D points"),
        (torch.zeros(5, 2), torch.zeros(4), None, "4 labels for 5 codes"),
        (torch.zeros(2, 2), torch.tensor([0, 10]), None, "integers 0..9"),
        (torch.zeros(2, 2), torch.tensor([0.5, 1.0]), None, "integers 0..9"),
    ],
)
def test_latent_scatter_rejects_bad_input(codes, labels, prior, message):
    with pytest.raises(ValueError, match=message):
        plots.latent_scatter(codes, labels, prior_samples=prior)


# style_grid


def test_style_grid_puts_one_digit_per_row_and_one_style_per_column():
    n_digits, n_styles = 3, 4
    values = torch.linspace(0.0, 1.0, n_digits * n_styles)
    fig = plots.style_grid(constant_images(values), n_digits=n_digits, pixel_range="unit")
    mosaic = mosaic_of(fig)
    assert mosaic.shape == (n_digits * STEP - 1, n_styles * STEP - 1)
    for digit in range(n_digits):
        for style in range(n_styles):
            expected = float(values[digit * n_styles + style])
            np.testing.assert_allclose(tile_at(mosaic, digit, style), expected, rtol=1e-6)
    ax = fig.axes[0]
    assert [label.get_text() for label in ax.get_yticklabels()] == ["digit 0", "digit 1", "digit 2"]
    assert [label.get_text() for label in ax.get_xticklabels()] == ["z #1", "z #2", "z #3", "z #4"]
    np.testing.assert_allclose(ax.get_yticks(), [13.5, 13.5 + STEP, 13.5 + 2 * STEP])


def test_style_grid_transposed_puts_one_style_per_row():
    n_digits, n_styles = 3, 4
    values = torch.linspace(0.0, 1.0, n_digits * n_styles)
    fig = plots.style_grid(
        constant_images(values), n_digits=n_digits, pixel_range="unit", transpose=True
    )
    mosaic = mosaic_of(fig)
    assert mosaic.shape == (n_styles * STEP - 1, n_digits * STEP - 1)
    for digit in range(n_digits):
        for style in range(n_styles):
            expected = float(values[digit * n_styles + style])
            np.testing.assert_allclose(tile_at(mosaic, style, digit), expected, rtol=1e-6)
    ax = fig.axes[0]
    assert ax.get_yticklabels()[0].get_text() == "z #1"
    assert ax.get_xticklabels()[2].get_text() == "digit 2"


def test_style_grid_rejects_images_that_do_not_split_into_digits():
    with pytest.raises(ValueError, match="do not split into 10 digits"):
        plots.style_grid(torch.zeros(25, IMAGE_SIZE))


# component_manifolds


def test_component_manifolds_draws_one_titled_square_mosaic_per_component():
    components = [constant_images(torch.full((4,), k / 10)) for k in range(10)]
    components[3] = unit_images(4)
    fig = plots.component_manifolds(components, pixel_range="unit")
    assert len(fig.axes) == 10
    assert [ax.get_title() for ax in fig.axes] == [f"component {k}" for k in range(10)]
    for k, ax in enumerate(fig.axes):
        mosaic = np.asarray(ax.images[0].get_array())
        assert mosaic.shape == (2 * STEP - 1, 2 * STEP - 1)
        if k != 3:
            np.testing.assert_allclose(tile_at(mosaic, 1, 1), k / 10, rtol=1e-6)
    np.testing.assert_allclose(tile_at(mosaic_of(fig, 3), 1, 0), components[3][2].view(TILE, TILE))
    rows_of_panels = {round(ax.get_position().y0, 3) for ax in fig.axes}
    assert len(rows_of_panels) == 2, "ten components belong in a 2 x 5 layout"


def test_component_manifolds_hides_unused_panels():
    fig = plots.component_manifolds([unit_images(1)] * 7, pixel_range="unit")
    drawn = [ax for ax in fig.axes if ax.images]
    assert len(drawn) == 7
    assert len(fig.axes) == 10
    assert not any(ax.axison for ax in fig.axes), "panels carry no ticks or frames"


@pytest.mark.parametrize(
    ("components", "message"),
    [
        ([unit_images(4), unit_images(3)], "component 1 has 3 images"),
        ([], "no components"),
        ([torch.zeros(4, 3, TILE, TILE)], r"component_manifolds\[0\]: images must have shape"),
    ],
)
def test_component_manifolds_rejects_bad_input(components, message):
    with pytest.raises(ValueError, match=message):
        plots.component_manifolds(components)


# learning_curves


HISTORY = {
    "loss/reconstruction": [0.5, 0.3, 0.2],
    "loss/discriminator_z": [1.4, 1.39, 1.38],
    "accuracy/train": [0.90, 0.95, 0.98],
    "accuracy/test": [0.89, 0.94, 0.97],
}


def lines_by_label(ax) -> dict:
    return {line.get_label(): line for line in ax.get_lines()}


def test_learning_curves_one_axis_per_group_accuracy_in_percent_with_reference():
    fig = plots.learning_curves(HISTORY, references={"reference 97.10 %": 0.971})
    loss_ax, accuracy_ax = fig.axes
    loss_lines = lines_by_label(loss_ax)
    assert set(loss_lines) == {"reconstruction", "discriminator_z"}
    np.testing.assert_array_equal(loss_lines["reconstruction"].get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(loss_lines["reconstruction"].get_ydata(), [0.5, 0.3, 0.2])
    accuracy_lines = lines_by_label(accuracy_ax)
    np.testing.assert_allclose(accuracy_lines["test"].get_ydata(), [89.0, 94.0, 97.0])
    reference = accuracy_lines["reference 97.10 %"]
    np.testing.assert_allclose(reference.get_ydata(), [97.1, 97.1])
    assert reference.get_linestyle() == "--"
    assert accuracy_ax.get_ylabel() == "accuracy (%)"
    assert loss_ax.get_ylabel() == "loss"
    assert accuracy_ax.get_xlabel() == "epoch"


def test_learning_curves_keeps_values_already_in_percent_and_honours_keys_and_ylabel():
    history = {"accuracy/test": [90.0, 97.0], "loss/total": [1.0, 0.5]}
    fig = plots.learning_curves(history, keys=["accuracy/test"], ylabel="test accuracy")
    (ax,) = fig.axes
    np.testing.assert_allclose(lines_by_label(ax)["test"].get_ydata(), [90.0, 97.0])
    assert ax.get_ylabel() == "test accuracy"


def test_learning_curves_single_epoch_gets_whole_epoch_ticks_only():
    fig = plots.learning_curves({"loss/total": [0.3], "accuracy/test": [0.9]})
    low, high = fig.axes[-1].get_xlim()
    visible_ticks = [tick for tick in fig.axes[-1].get_xticks() if low <= tick <= high]
    assert visible_ticks == [1.0]


def test_learning_curves_marks_the_learning_rate_drops_inside_the_plotted_epochs():
    history = {"loss/total": [1.0] * 120, "accuracy/test": [0.9] * 120}
    fig = plots.learning_curves(history, lr_milestones=[100, 300])
    for ax in fig.axes:
        drops = [line for line in ax.get_lines() if line.get_linestyle() == ":"]
        assert [line.get_xdata()[0] for line in drops] == [100.5]
        assert drops[0].get_label() == "learning rate ÷10"
    short = plots.learning_curves({"loss/total": [1.0] * 24}, lr_milestones=[100, 300])
    assert not [line for line in short.axes[0].get_lines() if line.get_linestyle() == ":"]


def test_learning_curves_accepts_tensors_and_ungrouped_keys():
    fig = plots.learning_curves({"lr": torch.tensor([1e-3, 5e-4])})
    np.testing.assert_allclose(lines_by_label(fig.axes[0])["lr"].get_ydata(), [1e-3, 5e-4])


@pytest.mark.parametrize(
    ("history", "keys", "references", "message"),
    [
        ({}, None, None, "nothing to plot"),
        (HISTORY, [], None, "nothing to plot"),
        (HISTORY, ["loss/generator"], None, r"keys \['loss/generator'\] are not in history"),
        ({"loss/total": [1.0]}, None, {"paper": 0.97}, "references need an accuracy group"),
    ],
)
def test_learning_curves_rejects_bad_input(history, keys, references, message):
    with pytest.raises(ValueError, match=message):
        plots.learning_curves(history, keys=keys, references=references)


# saving and pyplot hygiene


def small_figures() -> dict[str, Callable[..., Figure]]:
    images = unit_images(4)
    return {
        "latent_scatter": lambda path: plots.latent_scatter(
            torch.randn(40, 2), torch.arange(40) % N_CLASSES, path=path
        ),
        "image_grid": lambda path: plots.image_grid(images, nrow=2, path=path),
        "style_grid": lambda path: plots.style_grid(images, n_digits=2, path=path),
        "component_manifolds": lambda path: plots.component_manifolds([images] * 10, path=path),
        "learning_curves": lambda path: plots.learning_curves(HISTORY, path=path),
    }


@pytest.mark.parametrize("name", list(small_figures()))
def test_each_plot_returns_a_figure_and_saves_a_non_constant_png(name, tmp_path):
    path = tmp_path / "out" / f"{name}.png"
    figures_before = plt.get_fignums()
    fig = small_figures()[name](path)
    assert isinstance(fig, Figure)
    assert plt.get_fignums() == figures_before
    pixels = read_png(path)
    assert pixels.ndim == 3
    assert min(pixels.shape[:2]) > 100
    assert pixels[..., :3].std() > 0.05


def test_save_figure_creates_parents_and_writes_png_even_without_suffix(tmp_path):
    fig = plots.image_grid(unit_images(4), nrow=2)
    saved = plots.save_figure(fig, tmp_path / "a" / "b" / "grid")
    assert saved == tmp_path / "a" / "b" / "grid"
    assert read_png(saved).shape[2] in (3, 4)


# figures that carry their own coordinates and captions


def test_latent_scatter_names_what_the_colours_mean():
    fig = plots.latent_scatter(torch.randn(10, 2), torch.arange(10), colour_label="component")
    assert fig.axes[1].get_ylabel() == "component"


def test_manifold_grid_labels_axes_with_the_decoded_coordinates():
    z1, z2 = torch.linspace(-3, 3, 5), torch.linspace(3, -3, 4)
    images = constant_images(torch.linspace(0, 1, 20))
    fig = plots.manifold_grid(images, z1, z2, pixel_range="unit", title="grid", n_ticks=3)
    ax = fig.axes[0]
    np.testing.assert_allclose(tile_at(mosaic_of(fig), 1, 2), 7 / 19, rtol=1e-6)
    assert [label.get_text() for label in ax.get_xticklabels()] == ["-3.0", "0.0", "3.0"]
    assert [label.get_text() for label in ax.get_yticklabels()] == ["3.0", "-1.0", "-3.0"]
    np.testing.assert_allclose(ax.get_xticks(), [13.5, 13.5 + 2 * STEP, 13.5 + 4 * STEP])
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("$z_1$", "$z_2$", "grid")
    with pytest.raises(ValueError, match="19 images for a 4x5 grid"):
        plots.manifold_grid(images[:19], z1, z2)


def test_labelled_tiles_captions_every_image_and_hides_spare_panels():
    fig = plots.labelled_tiles(
        unit_images(5), [f"#{i}" for i in range(5)], ncol=3, pixel_range="unit", title="five"
    )
    drawn = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in drawn] == ["#0", "#1", "#2", "#3", "#4"]
    assert len(fig.axes) == 6
    assert fig.get_suptitle() == "five"
    with pytest.raises(ValueError, match="4 labels for 5 images"):
        plots.labelled_tiles(unit_images(5), ["a"] * 4, ncol=3)


def test_style_transfer_grid_sets_the_source_apart_and_names_every_column():
    sources = constant_images(torch.tensor([0.1, 0.2]))
    transferred = constant_images(torch.linspace(0.3, 1.0, 6))
    fig = plots.style_transfer_grid(sources, transferred, ["a 7", "a 2"], pixel_range="unit")
    source_axes = [ax for ax in fig.axes if ax.get_ylabel()]
    assert [ax.get_ylabel() for ax in source_axes] == ["a 7", "a 2"]
    assert source_axes[0].get_title() == "source"
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["source", "as 0", "as 1", "as 2"]
    first_decoded = fig.axes[1]
    assert first_decoded.get_position().x0 - source_axes[0].get_position().x1 > 0.05, (
        "the source column is set apart from the decoded ones"
    )
    row_1_as_0 = np.asarray(fig.axes[5].images[0].get_array())
    np.testing.assert_allclose(row_1_as_0, 0.3 + 0.7 * 3 / 5)
    with pytest.raises(ValueError, match="do not split into 2 rows"):
        plots.style_transfer_grid(sources, transferred[:5])


def test_component_manifolds_labels_edge_panels_with_offsets():
    components = [unit_images(9)] * 10
    fig = plots.component_manifolds(
        components, pixel_range="unit", along=[1, 0, -1], across=[-0.2, 0, 0.2]
    )
    first, bottom_left = fig.axes[0], fig.axes[5]
    assert [t.get_text() for t in first.get_yticklabels()] == ["1.0", "-1.0"]
    assert [t.get_text() for t in bottom_left.get_xticklabels()] == ["-0.2", "0.2"]
    assert first.get_ylabel() == "along the arm"
    assert bottom_left.get_xlabel() == "across"
    assert fig.axes[1].get_ylabel() == ""


def test_learning_curves_one_colour_per_model_one_style_per_role_and_a_title():
    history = {
        "loss/discriminator, A": [1.0, 1.1],
        "loss/generator, A": [0.7, 0.6],
        "loss/discriminator, B": [1.2, 1.3],
        "recon/A": [3.0, 2.0],
    }
    fig = plots.learning_curves(
        history, colour_by=["A", "B"], style_by=["discriminator", "generator"], title="run"
    )
    loss_lines, recon_lines = (lines_by_label(ax) for ax in fig.axes)
    assert loss_lines["discriminator, A"].get_color() == recon_lines["A"].get_color()
    assert loss_lines["discriminator, A"].get_color() != loss_lines["discriminator, B"].get_color()
    assert loss_lines["discriminator, A"].get_linestyle() == "-"
    assert loss_lines["generator, A"].get_linestyle() == "--"
    assert fig.get_suptitle() == "run"


def test_learning_curves_same_label_same_colour_and_references_in_distinct_styles():
    history = {"loss/model": [1.0, 0.5], "accuracy/model": [0.5, 0.9], "accuracy/other": [0.4, 0.8]}
    fig = plots.learning_curves(history, references={"paper": 0.98, "reference": 0.97})
    loss, accuracy = (lines_by_label(ax) for ax in fig.axes)
    assert loss["model"].get_color() == accuracy["model"].get_color()
    assert accuracy["model"].get_color() != accuracy["other"].get_color()
    assert accuracy["paper"].get_linestyle() != accuracy["reference"].get_linestyle()


def test_a_figure_written_on_a_full_disk_leaves_no_file(tmp_path, monkeypatch):
    import matplotlib.figure

    def full_disk(self, output, **kwargs):
        output.write(b"\x89PNG partial")
        raise OSError(28, "No space left on device")

    figure = Figure()
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full_disk)
    with pytest.raises(OSError):
        plots.save_figure(figure, tmp_path / "latent.png")
    assert list(tmp_path.iterdir()) == []
