"""Widgets for 2-D codes: the latent-space explorer, and the replay of training.

``LatentExplorer``: two sliders over a 2-D code space and the digit they decode to.

The explorer works in two modes at once. Static: at construction Python decodes a
``steps x steps`` grid over ``[-limit, limit]^2`` into one PNG sprite sheet that travels with
the widget's state, so the website (no kernel) can swap tiles as the sliders move. Live: with a
kernel, Python watches the sliders and decodes the exact code, which replaces the grid tile.
The JavaScript is inline (anywidget's ``_esm``), so there is no front-end build step.

``TrainingReplay``: one slider over the epochs of a training run, showing where the test codes
were after each epoch (recorded by the trainer), so a reader watches the adversary push the
codes into the prior. Its data travel with the widget, so it too works without a kernel.
"""

import base64
import io
import math
from collections.abc import Callable

import anywidget
import numpy as np
import torch
import traitlets
from PIL import Image

from ..data import IMAGE_SIDE, IMAGE_SIZE, PixelRange, check_pixel_range

# The sprite sheet is stored in every page and notebook showing the widget and grows with
# steps squared: 21 x 21 digits take a few hundred kB, 51 x 51 already about two MB.
MIN_STEPS, MAX_STEPS = 2, 51
# A page stays light and the scatter readable with this many points at most.
MAX_POINTS = 2000

_ESM = r"""
const TILE = __IMAGE_SIDE__;
// Live sliders move in finer steps than the grid, since the kernel decodes any code exactly.
const LIVE_SUBSTEPS = 5;
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

function element(tag, className, parent) {
  const node = document.createElement(tag);
  node.className = className;
  parent.appendChild(node);
  return node;
}

function render({ model, el }) {
  const limit = model.get("limit");
  const steps = model.get("steps");
  const spacing = (2 * limit) / (steps - 1);
  const root = element("div", "aae-explorer", el);
  const title = model.get("title");
  if (title) element("div", "aae-title", root).textContent = title;
  const row = element("div", "aae-row", root);
  const digit = element("canvas", "aae-digit", row);
  digit.width = digit.height = TILE;
  const digitContext = digit.getContext("2d");
  const points = model.get("points");
  const scatter = points.length ? element("canvas", "aae-scatter", row) : null;

  const sliders = {};
  for (const [name, label] of [["z1", "z\u2081"], ["z2", "z\u2082"]]) {
    const line = element("label", "aae-slider", root);
    element("span", "aae-name", line).textContent = label;
    const input = element("input", "", line);
    const step = model.get("live") ? spacing / LIVE_SUBSTEPS : spacing;
    Object.assign(input, { type: "range", min: -limit, max: limit, step, value: model.get(name) });
    input.setAttribute("aria-label", label);
    const value = element("output", "aae-value", line);
    input.addEventListener("input", () => {
      model.set(name, Number(input.value));
      model.save_changes();
    });
    sliders[name] = { input, value };
  }
  const source = element("div", "aae-source", root);

  // Nearest grid index; the Python twin is LatentExplorer.grid_image.
  const nearest = (z) => Math.min(steps - 1, Math.max(0, Math.round((z + limit) / spacing)));
  const sprite = new Image();
  const showGridTile = () => {
    const column = nearest(model.get("z1"));
    const row = nearest(model.get("z2"));
    digitContext.drawImage(sprite, column * TILE, row * TILE, TILE, TILE, 0, 0, TILE, TILE);
    const z1 = -limit + column * spacing;
    const z2 = -limit + row * spacing;
    source.textContent =
      `nearest of ${steps}\u00d7${steps} precomputed codes: (${z1.toFixed(2)}, ${z2.toFixed(2)})`;
  };
  const showLiveImage = () => {
    const image = new Image();
    image.onload = () => {
      digitContext.drawImage(image, 0, 0);
      source.textContent = "decoded exactly at this code";
    };
    image.src = model.get("image");
  };

  const drawScatter = () => {
    if (!scatter) return;
    const size = scatter.width;
    const context = scatter.getContext("2d");
    const toPixel = (z) => ((z + limit) / (2 * limit)) * size;
    context.clearRect(0, 0, size, size);
    for (const [z1, z2, label] of points) {
      context.fillStyle = COLORS[label % COLORS.length];
      context.fillRect(toPixel(z1) - 1, size - toPixel(z2) - 1, 2, 2);
    }
    const x = toPixel(model.get("z1"));
    const y = size - toPixel(model.get("z2"));
    context.strokeStyle = "#000";
    context.lineWidth = 2;
    context.beginPath();
    context.arc(x, y, 6, 0, 2 * Math.PI);
    context.stroke();
  };
  if (scatter) {
    scatter.width = scatter.height = 168;
    scatter.addEventListener("click", (event) => {
      const box = scatter.getBoundingClientRect();
      const fractionX = (event.clientX - box.left) / box.width;
      const fractionY = 1 - (event.clientY - box.top) / box.height;
      model.set("z1", Math.min(limit, Math.max(-limit, (2 * fractionX - 1) * limit)));
      model.set("z2", Math.min(limit, Math.max(-limit, (2 * fractionY - 1) * limit)));
      model.save_changes();
    });
  }

  const update = () => {
    for (const name of ["z1", "z2"]) {
      sliders[name].input.value = model.get(name);
      sliders[name].value.textContent = model.get(name).toFixed(2);
    }
    if (sprite.complete) showGridTile();
    drawScatter();
  };
  sprite.onload = () => {
    update();
    if (model.get("image")) showLiveImage();
  };
  sprite.src = model.get("sprite");
  model.on("change:z1", update);
  model.on("change:z2", update);
  model.on("change:image", showLiveImage);
}

export default { render };
""".replace("__IMAGE_SIDE__", str(IMAGE_SIDE))

_CSS = """
.aae-explorer { display: inline-block; font-family: inherit; padding: 0.5em 0; }
.aae-title { font-weight: 600; margin-bottom: 0.4em; }
.aae-row { display: flex; gap: 1em; align-items: flex-start; }
.aae-digit { width: 168px; height: 168px; image-rendering: pixelated; background: #000; }
.aae-scatter { width: 168px; height: 168px; border: 1px solid #999; background: #fff;
               cursor: crosshair; }
.aae-slider { display: flex; align-items: center; gap: 0.5em; margin: 0.3em 0 0 0; }
.aae-slider input { width: 260px; }
.aae-name { font-style: italic; min-width: 1.5em; }
.aae-value { font-variant-numeric: tabular-nums; min-width: 3.5em; }
.aae-source { font-size: 0.8em; opacity: 0.75; margin-top: 0.2em; }
"""


class LatentExplorer(anywidget.AnyWidget):
    """Sliders over a 2-D latent space showing the decoded digit; build with `from_decoder`."""

    _esm = _ESM
    _css = _CSS

    title = traitlets.Unicode("").tag(sync=True)
    limit = traitlets.Float(3.0).tag(sync=True)
    steps = traitlets.Int(21).tag(sync=True)
    live = traitlets.Bool(True).tag(sync=True)
    z1 = traitlets.Float(0.0).tag(sync=True)
    z2 = traitlets.Float(0.0).tag(sync=True)
    # PNG data URL: tile (row i, column j) is the decode of (grid[j], grid[i]).
    sprite = traitlets.Unicode("").tag(sync=True)
    # PNG data URL of the exact decode of (z1, z2); empty until a live decode happened.
    image = traitlets.Unicode("").tag(sync=True)
    # [z1, z2, label] per point of the optional latent scatter.
    points = traitlets.List().tag(sync=True)

    _decode_codes: Callable[[torch.Tensor], np.ndarray] | None = None

    @classmethod
    def from_decoder(
        cls,
        decode: Callable[[torch.Tensor], torch.Tensor],
        limit: float = 3.0,
        steps: int = 21,
        pixel_range: PixelRange = "signed",
        live: bool = True,
        title: str = "",
        *,
        codes: torch.Tensor | np.ndarray | None = None,
        labels: torch.Tensor | np.ndarray | None = None,
        device: str | torch.device | None = None,
    ) -> "LatentExplorer":
        """An explorer of ``decode``, which maps float codes (N, 2) to images (N, 784).

        ``pixel_range`` says whether ``decode`` returns pixels in [-1, 1] ("signed") or [0, 1]
        ("unit"). ``codes``/``labels`` (N, 2)/(N,) draw a latent scatter marking the current code.
        Codes go to ``device``; by default the device of the module ``decode`` is a method of.
        """
        if not np.isfinite(limit) or limit <= 0:
            raise ValueError(f"limit must be a positive finite number, got {limit!r}")
        if not isinstance(steps, int) or not MIN_STEPS <= steps <= MAX_STEPS:
            raise ValueError(f"steps must be in [{MIN_STEPS}, {MAX_STEPS}], got {steps!r}")
        check_pixel_range(pixel_range)
        target = torch.device(device) if device is not None else _module_device(decode)

        def decode_codes(batch: torch.Tensor) -> np.ndarray:
            return _to_uint8_images(decode, batch.to(target), pixel_range)

        grid = grid_values(limit, steps)
        # Row i holds z2 = grid[i]; column j holds z1 = grid[j].
        z2, z1 = torch.meshgrid(grid, grid, indexing="ij")
        tiles = decode_codes(torch.stack([z1.flatten(), z2.flatten()], dim=1))
        sheet = tiles.reshape(steps, steps, IMAGE_SIDE, IMAGE_SIDE).transpose(0, 2, 1, 3)
        widget = cls(
            title=title,
            limit=float(limit),
            steps=steps,
            live=live,
            sprite=_png_data_url(sheet.reshape(steps * IMAGE_SIDE, steps * IMAGE_SIDE)),
            points=_scatter_points(codes, labels),
        )
        widget._decode_codes = decode_codes
        widget._decode_current()
        return widget

    def grid_image(self, z1: float, z2: float) -> np.ndarray:
        """The (28, 28) uint8 digit a page without a kernel shows at (z1, z2): the sprite tile of
        the nearest grid code, picked exactly as the JavaScript picks it."""
        spacing = 2 * self.limit / (self.steps - 1)
        # floor(x + 0.5) is JavaScript's Math.round; Python's round() breaks ties to even.
        row, column = (
            min(self.steps - 1, max(0, math.floor((z + self.limit) / spacing + 0.5)))
            for z in (z2, z1)
        )
        sheet = _png_pixels(self.sprite)
        return sheet[
            row * IMAGE_SIDE : (row + 1) * IMAGE_SIDE,
            column * IMAGE_SIDE : (column + 1) * IMAGE_SIDE,
        ]

    @traitlets.observe("z1", "z2")
    def _on_code_change(self, change: dict) -> None:
        """Decode the exact code behind the sliders when a kernel is there to do it."""
        self._decode_current()

    def _decode_current(self) -> None:
        if not self.live or self._decode_codes is None:
            return
        image = self._decode_codes(torch.tensor([[self.z1, self.z2]], dtype=torch.float32))
        self.image = _png_data_url(image[0])


def grid_values(limit: float, steps: int) -> torch.Tensor:
    """The ``steps`` evenly spaced code values from -limit to limit that the sliders snap to."""
    return torch.linspace(-limit, limit, steps, dtype=torch.float32)


def _png_pixels(data_url: str) -> np.ndarray:
    """The uint8 grey pixels of a PNG data URL made by `_png_data_url`."""
    encoded = data_url.removeprefix("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))).convert("L"))


def _module_device(decode: Callable) -> torch.device:
    """The device of the nn.Module whose method ``decode`` is; the CPU for anything else."""
    owner = getattr(decode, "__self__", None)
    if isinstance(owner, torch.nn.Module):
        parameter = next(owner.parameters(), None)
        if parameter is not None:
            return parameter.device
    return torch.device("cpu")


def _to_uint8_images(
    decode: Callable[[torch.Tensor], torch.Tensor], codes: torch.Tensor, pixel_range: PixelRange
) -> np.ndarray:
    """Decode ``codes`` into (N, IMAGE_SIDE, IMAGE_SIDE) uint8 images, checking what ``decode``
    returns."""
    with torch.inference_mode():
        images = decode(codes)
    if not isinstance(images, torch.Tensor) or images.numel() != len(codes) * IMAGE_SIZE:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images)
        raise ValueError(
            f"decode must return {len(codes)} images of {IMAGE_SIZE} pixels, got {shape}"
        )
    pixels = images.detach().float().cpu().reshape(len(codes), IMAGE_SIDE, IMAGE_SIDE)
    if pixel_range == "signed":
        pixels = (pixels + 1) / 2
    return (pixels.clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def _png_data_url(pixels: np.ndarray) -> str:
    """A grey uint8 image as a PNG data URL, which a browser shows without any request."""
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _scatter_points(
    codes: torch.Tensor | np.ndarray | None, labels: torch.Tensor | np.ndarray | None
) -> list[list[float]]:
    """[z1, z2, label] rows for the scatter, evenly thinned to MAX_POINTS, rounded to 3 places."""
    if codes is None and labels is None:
        return []
    if codes is None or labels is None:
        raise ValueError("codes and labels go together: give both or neither")
    codes = np.asarray(torch.as_tensor(codes).detach().float().cpu())
    labels = np.asarray(torch.as_tensor(labels).detach().cpu()).astype(int)
    if codes.ndim != 2 or codes.shape[1] != 2 or labels.shape != (len(codes),):
        raise ValueError(
            f"codes must be (N, 2) and labels (N,), got {codes.shape} and {labels.shape}"
        )
    keep = np.linspace(0, len(codes) - 1, min(len(codes), MAX_POINTS)).round().astype(int)
    return [
        [round(float(a), 3), round(float(b), 3), int(c)]
        for (a, b), c in zip(codes[keep], labels[keep], strict=True)
    ]


_REPLAY_ESM = r"""
const SIZE = 240;
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "aae-replay";
  el.appendChild(root);
  const title = model.get("title");
  if (title) {
    const heading = document.createElement("div");
    heading.className = "aae-title";
    heading.textContent = title;
    root.appendChild(heading);
  }
  const canvas = document.createElement("canvas");
  canvas.className = "aae-replay-scatter";
  canvas.width = canvas.height = SIZE;
  root.appendChild(canvas);
  const context = canvas.getContext("2d");
  const line = document.createElement("label");
  line.className = "aae-slider";
  const name = document.createElement("span");
  name.textContent = "epoch";
  const slider = document.createElement("input");
  slider.type = "range";
  slider.min = 0;
  const frames = atob(model.get("frames"));
  const labels = model.get("labels");
  const perFrame = 2 * labels.length;
  slider.max = frames.length / perFrame - 1;
  slider.step = 1;
  const value = document.createElement("span");
  value.className = "aae-value";
  line.append(name, slider, value);
  root.appendChild(line);

  function draw() {
    const epoch = Number(slider.value);
    value.textContent = `${epoch + 1} of ${slider.max * 1 + 1}`;
    context.fillStyle = "#fff";
    context.fillRect(0, 0, SIZE, SIZE);
    context.strokeStyle = "#ccc";
    context.beginPath();
    context.moveTo(SIZE / 2, 0); context.lineTo(SIZE / 2, SIZE);
    context.moveTo(0, SIZE / 2); context.lineTo(SIZE, SIZE / 2);
    context.stroke();
    const start = epoch * perFrame;
    for (let i = 0; i < labels.length; i++) {
      // Each coordinate is one byte: 0..255 spans [-limit, limit] left to right, bottom to top.
      const x = (frames.charCodeAt(start + 2 * i) + 0.5) / 256 * SIZE;
      const y = SIZE - (frames.charCodeAt(start + 2 * i + 1) + 0.5) / 256 * SIZE;
      context.fillStyle = COLORS[labels[i] % 10];
      context.fillRect(x - 1.5, y - 1.5, 3, 3);
    }
  }
  slider.value = slider.max;
  slider.addEventListener("input", draw);
  draw();
}

export default { render };
"""


class TrainingReplay(anywidget.AnyWidget):
    """A slider over training epochs showing the 2-D test codes after each epoch."""

    _esm = _REPLAY_ESM
    _css = _CSS + ".aae-replay-scatter { width: 240px; height: 240px; border: 1px solid #999; }\n"

    title = traitlets.Unicode("").tag(sync=True)
    limit = traitlets.Float(4.0).tag(sync=True)
    # base64 of uint8 (epochs, points, 2): each code quantised to 256 steps over [-limit, limit].
    frames = traitlets.Unicode("").tag(sync=True)
    labels = traitlets.List().tag(sync=True)

    @classmethod
    def from_snapshots(
        cls,
        snapshots: torch.Tensor,
        labels: torch.Tensor,
        limit: float = 4.0,
        points: int = 500,
        title: str = "",
    ) -> "TrainingReplay":
        """``snapshots`` (epochs, N, 2) are the codes of N test images after each epoch, and
        ``labels`` (N,) their digits; ``points`` of them, evenly spaced, are drawn."""
        snapshots = torch.as_tensor(snapshots).float().cpu()
        if snapshots.ndim != 3 or snapshots.shape[2] != 2 or len(snapshots) == 0:
            raise ValueError(f"snapshots must be (epochs, N, 2), got {tuple(snapshots.shape)}")
        if not np.isfinite(limit) or limit <= 0:
            raise ValueError(f"limit must be a positive finite number, got {limit!r}")
        labels = torch.as_tensor(labels).cpu()[: snapshots.shape[1]]
        keep = torch.linspace(0, snapshots.shape[1] - 1, min(points, snapshots.shape[1]))
        keep = keep.round().long()
        quantised = ((snapshots[:, keep] + limit) / (2 * limit) * 256).floor().clamp(0, 255)
        frames = quantised.to(torch.uint8).numpy().tobytes()
        return cls(
            title=title,
            limit=float(limit),
            frames=base64.b64encode(frames).decode("ascii"),
            labels=[int(v) for v in labels[keep]],
        )

    def frame(self, epoch: int) -> np.ndarray:
        """The (points, 2) codes the page draws for ``epoch``, back in code units."""
        raw = np.frombuffer(base64.b64decode(self.frames), dtype=np.uint8)
        frames = raw.reshape(-1, len(self.labels), 2)
        return (frames[epoch].astype(np.float32) + 0.5) / 256 * 2 * self.limit - self.limit
