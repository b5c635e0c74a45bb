"""``python -m aae_lib``: the reference's command line, with its flags and output file names.

A run's checkpoints and figures go to ``<save-dir>/<run name>``, where the run name encodes the
model kind, prior and code size, so ``--train`` followed by ``--viz --load N`` with the same
flags finds the weights it trained. Training resumes from the newest checkpoint in that folder.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path

import torch

from . import checkpoints, evaluate, plots
from .data import load_mnist
from .errors import AAEError
from .models import N_CLASSES
from .priors import PRIOR_NAMES, PinwheelMixture, linear_grid, percentile_grid
from .recipes import REFERENCE_SCHEDULE, label_conditioned, recipe, supervised, unsupervised
from .train import REFERENCE_WEIGHTS, TrainConfig, Trainer, resolve_device

WEIGHT_FLAGS = {"encw": "reconstruction", "genw": "generator_z", "disw": "discriminator_z",
                "clsw": "classification", "ygenw": "generator_y", "ydisw": "discriminator_y"}


class OneLineErrorParser(argparse.ArgumentParser):
    """Bad flags end in one line naming the problem, not a usage dump."""

    def error(self, message):
        self.exit(2, f"aae_lib: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = OneLineErrorParser(prog="python -m aae_lib", description=__doc__.split("\n")[0])
    actions = p.add_argument_group("what to do (as in the reference)")
    actions.add_argument("--train", action="store_true", help="train the Fig 1/3 model")
    actions.add_argument("--train_supervised", action="store_true",
                         help="train the supervised model of Fig 6")
    actions.add_argument("--train_semisupervised", action="store_true",
                         help="train the semi-supervised model of Fig 8")
    actions.add_argument("--label", action="store_true",
                         help="use labels in the adversarial regularisation (Fig 3 with labels)")
    actions.add_argument("--generate", action="store_true",
                         help="sample 20x20 images from the prior (generate_im.png)")
    actions.add_argument("--viz", action="store_true",
                         help="latent scatter and manifolds (latent.png; ncode 2 only)")
    actions.add_argument("--supervise", action="store_true",
                         help="with --generate: style grid of the supervised model")
    actions.add_argument("--load", type=int, metavar="EPOCH",
                         help="epoch of the checkpoint to use (default: the newest)")
    hp = p.add_argument_group("hyperparameters (reference defaults)")
    hp.add_argument("--ncode", type=int, default=2, help="code dimension (default 2)")
    hp.add_argument("--dist_type", default="gaussian", choices=PRIOR_NAMES,
                    help="prior on the code (default gaussian; gmm = 10-component mixture)")
    hp.add_argument("--noise", action="store_true",
                    help="add Gaussian noise (std 0.6 in [-1, 1] units) to encoder inputs")
    hp.add_argument("--lr", type=float, default=2e-4, help="initial learning rate")
    hp.add_argument("--dropout", type=float, default=1.0,
                    help="keep probability of encoder dropout (1.0 = none)")
    hp.add_argument("--bsize", type=int, default=128, help="batch size")
    hp.add_argument("--maxepoch", type=int, default=100, help="number of epochs")
    for flag, phase in WEIGHT_FLAGS.items():
        hp.add_argument(f"--{flag}", type=float, default=REFERENCE_WEIGHTS[phase],
                        help=f"weight of the {phase.replace('_', ' ')} loss: scales that "
                             f"phase's learning rate by weight/{REFERENCE_WEIGHTS[phase]:g}")
    ours = p.add_argument_group("added by aae_lib")
    ours.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    ours.add_argument("--seed", type=int, default=0)
    ours.add_argument("--data-dir", type=Path, help="where MNIST is or goes "
                      "(default $AAE_DATA_DIR or ~/.cache/aae_lib)")
    ours.add_argument("--save-dir", type=Path, default=Path("aae_out"),
                      help="where runs keep checkpoints and figures (default ./aae_out)")
    ours.add_argument("--n_labeled", type=int,
                      help="labels used: --label default all, semi-supervised default 1000")
    ours.add_argument("--encoder", default="deterministic", choices=("deterministic", "gaussian"),
                      help="deterministic (paper) or reparameterised Gaussian (reference)")
    ours.add_argument("--recipe", default="reference", choices=("reference", "paper"),
                      help="semi-supervised optimiser: reference (Adam) or paper (SGD, [0,1] "
                           "pixels, batch 100); paper ignores --lr, --bsize and --noise")
    ours.add_argument("--classify_every", type=int, default=1,
                      help="semi-supervised: classification step every n minibatches "
                           "(reference: 10)")
    ours.add_argument("--precision", default="fp32", choices=("fp32", "bf16"),
                      help="bf16: bfloat16 autocast for the forward passes, faster on CPUs "
                           "with native bfloat16 and on GPUs (see benchmarks/README.md)")
    ours.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def model_kind(args) -> str:
    if args.train_supervised or args.supervise:
        return "supervised"
    if args.train_semisupervised:
        return "semisupervised"
    return "label" if args.label else "unsupervised"


def config_from_args(args) -> TrainConfig:
    kind = model_kind(args)
    weights = {phase: getattr(args, flag) for flag, phase in WEIGHT_FLAGS.items()}
    common = dict(epochs=args.maxepoch, seed=args.seed, weights=weights,
                  dropout_keep=args.dropout, precision=args.precision)
    if kind == "semisupervised":
        n_labeled = 1000 if args.n_labeled is None else args.n_labeled
        common.update(n_labeled=n_labeled, classify_every=args.classify_every)
        if args.recipe == "paper":
            return recipe("paper_semisupervised", **common)
        reference = recipe("reference_semisupervised")
        model = replace(reference.model, ncode=args.ncode, encoder_head=args.encoder)
        return replace(reference, model=model, batch_size=args.bsize, lr=args.lr,
                       noise_std=0.3 if args.noise else 0.0, **common)
    options = dict(ncode=args.ncode, encoder_head=args.encoder)
    model = {"unsupervised": lambda: unsupervised(args.dist_type, **options),
             "label": lambda: label_conditioned(args.dist_type, **options),
             "supervised": lambda: supervised(**options)}[kind]()
    return TrainConfig(model=model, batch_size=args.bsize, lr=args.lr,
                       lr_milestones=REFERENCE_SCHEDULE["lr_milestones"],
                       noise_std=0.3 if args.noise else 0.0,
                       n_labeled=args.n_labeled if kind == "label" else None, **common)


def run_name(config: TrainConfig) -> str:
    model = config.model
    if config.classify:
        name = "semisupervised"
    elif model.decoder_input == "code+label":
        name = "supervised"
    else:
        name = f"aae_label_{model.prior}" if model.label_conditioned else f"aae_{model.prior}"
    name += f"_ncode{model.ncode}"
    if config.n_labeled is not None:
        name += f"_labels{config.n_labeled}"
    if model.pixel_range == "unit":
        name += "_paper"
    return name


def train(trainer: Trainer) -> None:
    if trainer.resume():
        print(f"resuming from epoch {trainer.epochs_done - 1} in {trainer.save_dir}")
    if trainer.epochs_done >= trainer.config.epochs:
        print(f"already trained {trainer.epochs_done} epochs in {trainer.save_dir}")
        return
    trainer.fit()
    last = {k: round(v[-1], 4) for k, v in trainer.history.items() if not k.startswith("time")}
    print(f"epoch {trainer.epochs_done - 1}: {last}")
    print(trainer.speed_report())
    print(f"checkpoints in {trainer.save_dir}")


def load_epoch(trainer: Trainer, epoch: int | None) -> int:
    """Load the inference weights of ``epoch`` (default: newest) into the trainer's model."""
    available = checkpoints.saved_epochs(trainer.save_dir)
    if epoch is None and available:
        epoch = available[-1]
    if epoch is None or epoch not in available:
        found = ", ".join(map(str, available)) or "none"
        asked = "any epoch" if epoch is None else f"epoch {epoch}"
        raise AAEError(f"no checkpoint for {asked} in {trainer.save_dir} "
                       f"(epochs saved: {found}); train first with the same flags")
    trainer.load(checkpoints.epoch_path(trainer.save_dir, epoch), resume=False)
    return epoch


@torch.no_grad()
def generate(trainer: Trainer, supervise: bool) -> None:
    model, out = trainer.model.eval(), trainer.save_dir
    pixel_range = model.config.pixel_range
    if supervise:
        codes = model.prior.sample(20, trainer.generator).repeat(N_CLASSES, 1)
        digits = torch.arange(N_CLASSES, device=codes.device).repeat_interleave(20)
        plots.style_grid(model.decode(codes, digits), N_CLASSES, pixel_range,
                         path=out / "sample_style.png")
        print(f"wrote {out / 'sample_style.png'}")
        return
    labels = None
    if model.config.label_conditioned:  # row r shows mixture component r mod 10
        labels = (torch.arange(400, device=trainer.device) // 20) % N_CLASSES
    images = model.sample(400, trainer.generator, labels)
    plots.image_grid(images, 20, pixel_range, path=out / "generate_im.png")
    print(f"wrote {out / 'generate_im.png'}")


@torch.no_grad()
def visualise(trainer: Trainer) -> None:
    model, out = trainer.model.eval(), trainer.save_dir
    codes = evaluate.encode_all(model, trainer.eval_images)
    plots.latent_scatter(codes, trainer.eval_labels, path=out / "latent.png",
                         title=f"test-set codes, {run_name(trainer.config)}")
    written = ["latent.png"]
    if model.config.decoder_input == "code":  # the supervised model's figure is its style grid
        written += draw_manifolds(model, out)
    print(f"wrote {', '.join(written)} in {out}")


def draw_manifolds(model, out: Path) -> list[str]:
    """The reference's manifold images: one grid, or one per mixture component."""
    device = next(model.parameters()).device
    if isinstance(model.prior, PinwheelMixture):
        grids = {f"manifold_{k}.png": model.prior.component_grid(k)
                 for k in range(model.prior.n_components)}
    else:
        grids = {"manifold.png": linear_grid(), "manifold_percentile.png": percentile_grid()}
    for name, grid in grids.items():
        plots.image_grid(model.decode(grid.to(device)), 20, model.config.pixel_range,
                         path=out / name)
    return list(grids)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    training = args.train or args.train_supervised or args.train_semisupervised
    if not (training or args.generate or args.viz):
        parser.error("nothing to do: give --train, --train_supervised, "
                     "--train_semisupervised, --generate or --viz")
    if args.viz and args.ncode != 2:
        parser.error(f"--viz needs --ncode 2 (got --ncode {args.ncode}): "
                     "the latent space is drawn in 2-D")
    try:
        config = config_from_args(args)
    except ValueError as error:
        parser.error(str(error))
    logging.basicConfig(format="%(message)s")
    logging.getLogger("aae_lib").setLevel(logging.INFO)  # say where MNIST came from
    try:
        device = resolve_device(args.device)
        data = load_mnist(args.data_dir, device=device)
        trainer = Trainer(config, data, device, save_dir=args.save_dir / run_name(config),
                          progress=not args.no_progress)
        if training:
            train(trainer)
        if args.generate or args.viz:
            epoch = load_epoch(trainer, args.load)
            print(f"using epoch {epoch} from {trainer.save_dir}")
            if args.generate:
                generate(trainer, args.supervise)
            if args.viz:
                visualise(trainer)
    except AAEError as error:
        print(f"aae_lib: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: run the same command again to resume from the last checkpoint",
              file=sys.stderr)
        return 130
    return 0
