"""``python -m aae_lib``: the reference's command line, with its flags and output file names.

A run's checkpoints and figures go to ``<save-dir>/<run name>``. The run name encodes every
setting that a resumed run may not change (the model, the labels, and any batch size, noise,
dropout, encoder, recipe, classification interval, seed or precision other than the default),
so runs with different settings never share a folder, and ``--train`` followed by ``--viz`` or
``--generate`` with the same flags finds the weights it trained; ``--run NAME`` looks at any run
by its folder name instead. Training resumes from the newest checkpoint in its folder and may
change the learning rate, the loss weights and the number of epochs when it does.

Every flag given takes effect. A bad number, two flags that contradict each other, or a flag
that does not apply to the command is an error (exit code 2), never a warning: an ignored flag
would leave the user believing that they had tried a setting that they had not.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from .. import checkpoints
from ..data import N_CLASSES
from ..errors import AAEError, TrainingDiverged
from ..priors import PRIOR_NAMES
from ..recipes import REFERENCE_SCHEDULE, label_conditioned, recipe, supervised, unsupervised
from ..train import REFERENCE_WEIGHTS, TrainConfig, Trainer, plural, resolve_device
from .args import (
    UsageError,
    guarded,
    keep_probability,
    open_trainer,
    positive_rate,
    whole_number,
)
from .figures import draw_codes, draw_samples

WEIGHT_FLAGS = {
    "encw": "reconstruction",
    "genw": "generator_z",
    "disw": "discriminator_z",
    "clsw": "classification",
    "ygenw": "generator_y",
    "ydisw": "discriminator_y",
}
TRAINING_FLAGS = ("train", "train_supervised", "train_semisupervised")
# The flags that choose the model; they must agree with each other.
MODEL_OF_FLAG = {
    "train_supervised": "supervised",
    "supervise": "supervised",
    "train_semisupervised": "semisupervised",
    "label": "label",
}
MODEL_NAMES = {
    "unsupervised": "unsupervised",
    "label": "label-conditioned",
    "supervised": "supervised",
    "semisupervised": "semi-supervised",
}
# Flags that belong to some models only, and why.
MODELS_OF_FLAG = {
    "dist_type": (
        ("unsupervised", "label"),
        "the supervised and semi-supervised models have a Gaussian prior",
    ),
    "n_labeled": (
        ("label", "semisupervised"),
        "only --label and --train_semisupervised runs "
        "hide labels (the supervised model needs every label)",
    ),
    "recipe": (("semisupervised",), "recipes are for --train_semisupervised"),
    "classify_every": (
        ("semisupervised",),
        "only the semi-supervised model has a classification phase",
    ),
    "clsw": (("semisupervised",), "only the semi-supervised model has a classification phase"),
    "ygenw": (("semisupervised",), "only the semi-supervised model has a class-head adversary"),
    "ydisw": (("semisupervised",), "only the semi-supervised model has a class-head adversary"),
}
# Flags that change how a run trains but not which run it is (a resume may change them).
TRAINING_ONLY = ("lr", "maxepoch", "viz_every", *WEIGHT_FLAGS)
# Flags that say which run to use: the run name encodes them, and --run replaces them all.
RUN_SETTINGS = (
    "label",
    "supervise",
    "ncode",
    "dist_type",
    "noise",
    "dropout",
    "bsize",
    "n_labeled",
    "encoder",
    "recipe",
    "classify_every",
    "discriminator_steps",
    "precision",
    "seed",
)
ALL_LABELS = "all"
DEFAULT_LABELS = {"label": 10_000, "semisupervised": 1000}  # the reference's --label: 10 000
NOISE_STD = 0.3  # --noise, in [0, 1] pixel units (the reference's 0.6 in [-1, 1])
PAPER_LRS = "0.01 for reconstruction, 0.1 for the adversarial and classification phases"


class OneLineErrorParser(argparse.ArgumentParser):
    """Bad flags end in one line naming the problem, not a usage dump."""

    def error(self, message):
        self.exit(2, f"aae_lib: error: {message}\n")


# ----------------------------------------------------------------------------- number flags


def label_count(text: str) -> int | str:
    """``all`` or a number of labels, at least one per digit."""
    if text == ALL_LABELS:
        return ALL_LABELS
    return whole_number(N_CLASSES, " (one label per digit), or 'all'")(text)


def build_parser() -> argparse.ArgumentParser:
    """Flags default to None where the command must know whether they were given."""
    p = OneLineErrorParser(
        prog="python -m aae_lib",
        description="Train and look at the adversarial autoencoders of Makhzani et al. with "
        "the flags of the TensorFlow reproduction. A flag that does not apply to "
        "the command is an error, not ignored.",
    )
    actions = p.add_argument_group("what to do (as in the reference)")
    train = actions.add_mutually_exclusive_group()
    train.add_argument("--train", action="store_true", help="train the Fig 1/3 model")
    train.add_argument(
        "--train_supervised", action="store_true", help="train the supervised model of Fig 6"
    )
    train.add_argument(
        "--train_semisupervised",
        action="store_true",
        help="train the semi-supervised model of Fig 8",
    )
    actions.add_argument(
        "--label",
        action="store_true",
        help="use labels in the adversarial regularisation (Fig 3 with labels)",
    )
    actions.add_argument(
        "--generate",
        action="store_true",
        help="sample images: generate_im.png, or sample_style.png for the "
        "supervised and semi-supervised models",
    )
    actions.add_argument(
        "--viz",
        action="store_true",
        help="latent.png and manifold images (ncode 2); the confusion matrix "
        "of a semi-supervised run",
    )
    actions.add_argument(
        "--supervise",
        action="store_true",
        help="look at the supervised model (with --generate: its style grid)",
    )
    actions.add_argument(
        "--load",
        type=whole_number(0),
        metavar="EPOCH",
        help="with --generate/--viz: epoch of the checkpoint to use (default: the newest)",
    )
    hp = p.add_argument_group("hyperparameters (reference defaults)")
    hp.add_argument(
        "--ncode", type=whole_number(1), help="code dimension (default 2; 10 with --recipe paper)"
    )
    hp.add_argument(
        "--dist_type",
        choices=PRIOR_NAMES,
        help="prior on the code (default gaussian; gmm = 10-component mixture)",
    )
    hp.add_argument(
        "--noise",
        action="store_true",
        help="add Gaussian noise (std 0.6 in [-1, 1] units) to encoder inputs",
    )
    hp.add_argument(
        "--lr",
        type=positive_rate,
        help="initial learning rate (default 0.0002); a resumed run may change it",
    )
    hp.add_argument(
        "--dropout",
        type=keep_probability,
        help="keep probability of encoder dropout (default 1.0 = none)",
    )
    hp.add_argument(
        "--bsize", type=whole_number(1), help="batch size (default 128; 100 with --recipe paper)"
    )
    hp.add_argument("--maxepoch", type=whole_number(1), help="number of epochs (default 100)")
    for flag, phase in WEIGHT_FLAGS.items():
        hp.add_argument(
            f"--{flag}",
            type=positive_rate,
            help=f"weight of the {phase.replace('_', ' ')} loss (default "
            f"{REFERENCE_WEIGHTS[phase]:g}): scales that phase's learning "
            f"rate by weight/{REFERENCE_WEIGHTS[phase]:g}",
        )
    ours = p.add_argument_group("added by aae_lib")
    ours.add_argument(
        "--run",
        metavar="NAME",
        help="with --generate/--viz: the run folder in --save-dir to look at, "
        "as training printed it; its settings come from its checkpoint",
    )
    ours.add_argument(
        "--viz_every",
        type=whole_number(0),
        metavar="N",
        help="while training: sample and latent images every N epochs (default 10; 0: none)",
    )
    ours.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    ours.add_argument("--seed", type=whole_number(0), help="default 0")
    ours.add_argument(
        "--data-dir",
        type=Path,
        help="where MNIST is or goes (default $AAE_DATA_DIR or ~/.cache/aae_lib)",
    )
    ours.add_argument(
        "--save-dir",
        type=Path,
        default=Path("aae_out"),
        help="where runs keep checkpoints and figures (default ./aae_out)",
    )
    ours.add_argument(
        "--n_labeled",
        type=label_count,
        help="labels used, or 'all': --label default 10000 (the reference's), "
        "semi-supervised default 1000",
    )
    ours.add_argument(
        "--encoder",
        choices=("deterministic", "gaussian"),
        help="deterministic (paper, default) or reparameterised Gaussian (reference)",
    )
    ours.add_argument(
        "--recipe",
        choices=("reference", "paper"),
        help="semi-supervised optimiser: reference (Adam, default) or paper "
        f"(SGD with the paper's learning rates, {PAPER_LRS}; [0, 1] pixels, "
        "batch 100, input noise, ncode 10)",
    )
    ours.add_argument(
        "--classify_every",
        type=whole_number(1),
        help="semi-supervised: classification step every n minibatches (default 1; reference: 10)",
    )
    ours.add_argument(
        "--discriminator_steps",
        type=whole_number(1),
        metavar="K",
        help="discriminator steps per generator step (default 1, as in the "
        "reference and the paper)",
    )
    ours.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        help="auto (default): bfloat16 autocast for the forward passes where the "
        "hardware does it natively and a start-up probe finds it faster, "
        "fp32 elsewhere; fp32 or bf16 force one (see benchmarks/README.md)",
    )
    ours.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


# ----------------------------------------------------------------------------- flag checks
def given(args, flag: str) -> bool:
    value = getattr(args, flag)
    return value is not None and value is not False


def model_kind(args) -> str:
    """The model the flags choose; they must all choose the same one."""
    chosen = {f"--{flag}": kind for flag, kind in MODEL_OF_FLAG.items() if getattr(args, flag)}
    if args.train:
        chosen["--train"] = "label" if args.label else "unsupervised"
    if not chosen:
        return "unsupervised"
    (first, kind), *others = chosen.items()
    for second, other in others:
        if other != kind:
            raise UsageError(
                f"{first} and {second} choose different models (the "
                f"{MODEL_NAMES[kind]} and the {MODEL_NAMES[other]} one)"
            )
    return kind


def check_flags(args) -> None:
    """Refuse contradictions and flags that would not take effect, before any work; note in
    ``args`` whether the command trains and which model it is about."""
    args.training = training = any(getattr(args, flag) for flag in TRAINING_FLAGS)
    looking = args.generate or args.viz
    if not (training or looking):
        raise UsageError(
            "nothing to do: give --train, --train_supervised, "
            "--train_semisupervised, --generate or --viz"
        )
    args.kind = model_kind(args)
    if args.run is not None:
        if training:
            raise UsageError(
                "--run names a trained run to look at; it does not go with "
                "training (train with the run's flags to resume it)"
            )
        settings = [f"--{flag}" for flag in RUN_SETTINGS if given(args, flag)]
        if settings:
            raise UsageError(
                f"--run takes its settings from the run's checkpoint: drop {', '.join(settings)}"
            )
    for flag, (kinds, why) in MODELS_OF_FLAG.items():
        if given(args, flag) and args.kind not in kinds:
            raise UsageError(
                f"--{flag} does not apply to the {MODEL_NAMES[args.kind]} model: {why}"
            )
    if not training:
        for flag in TRAINING_ONLY:
            if given(args, flag):
                raise UsageError(
                    f"--{flag} applies to training (--train, --train_supervised, "
                    "--train_semisupervised); this command only looks at a run"
                )
    if args.load is not None and not looking:
        raise UsageError("--load applies to --generate and --viz")
    if args.recipe == "paper" and args.lr is not None:
        raise UsageError(
            f"--lr does not apply to --recipe paper, whose SGD learning rates are "
            f"the paper's ({PAPER_LRS}); scale a phase's with its weight flag"
        )


def parse_flags(argv: list[str] | None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    check_flags(args)
    return args


def pick(value, default):
    return default if value is None else value


# ----------------------------------------------------------------------------- runs
def config_from_args(args) -> TrainConfig:
    """The run the flags describe: the reference's defaults where a flag is not given."""
    weights = {
        phase: pick(getattr(args, flag), REFERENCE_WEIGHTS[phase])
        for flag, phase in WEIGHT_FLAGS.items()
    }
    labels = pick(args.n_labeled, DEFAULT_LABELS.get(args.kind, ALL_LABELS))
    common = dict(
        epochs=pick(args.maxepoch, 100),
        seed=pick(args.seed, 0),
        weights=weights,
        dropout_keep=pick(args.dropout, 1.0),
        precision=pick(args.precision, "auto"),
        discriminator_steps=pick(args.discriminator_steps, 1),
        n_labeled=None if labels == ALL_LABELS else labels,
    )
    encoder = pick(args.encoder, "deterministic")
    noise = NOISE_STD if args.noise else 0.0
    if args.kind == "semisupervised":
        common["classify_every"] = pick(args.classify_every, 1)
        base = recipe(f"{pick(args.recipe, 'reference')}_semisupervised", **common)
        if args.recipe == "paper":  # the paper's noise is always on
            model = replace(
                base.model, ncode=pick(args.ncode, base.model.ncode), encoder_head=encoder
            )
            return replace(base, model=model, batch_size=pick(args.bsize, base.batch_size))
        model = replace(base.model, ncode=pick(args.ncode, 2), encoder_head=encoder)
        return replace(
            base,
            model=model,
            batch_size=pick(args.bsize, 128),
            lr=pick(args.lr, 2e-4),
            noise_std=noise,
        )
    options = dict(ncode=pick(args.ncode, 2), encoder_head=encoder)
    prior = pick(args.dist_type, "gaussian")
    model = {
        "unsupervised": lambda: unsupervised(prior, **options),
        "label": lambda: label_conditioned(prior, **options),
        "supervised": lambda: supervised(**options),
    }[args.kind]()
    return TrainConfig(
        model=model,
        batch_size=pick(args.bsize, 128),
        lr=pick(args.lr, 2e-4),
        lr_milestones=REFERENCE_SCHEDULE["lr_milestones"],
        noise_std=noise,
        **common,
    )


def run_name(config: TrainConfig) -> str:
    """The folder of a run: its model, then each setting that a resume may not change and
    that differs from the command line's default, so that such settings never collide."""
    model, paper = config.model, config.model.pixel_range == "unit"
    if config.classify:
        name = "semisupervised"
    elif model.decoder_input == "code+label":
        name = "supervised"
    else:
        name = f"aae_label_{model.prior}" if model.label_conditioned else f"aae_{model.prior}"
    name += f"_ncode{model.ncode}"
    if config.n_labeled is not None:
        name += f"_labels{config.n_labeled}"
    if paper:
        name += "_paper"
    if config.batch_size != (100 if paper else 128):
        name += f"_bsize{config.batch_size}"
    if config.noise_std and not paper:
        name += "_noise"
    if config.dropout_keep != 1:
        name += f"_keep{config.dropout_keep:g}"
    if model.encoder_head != "deterministic":
        name += f"_{model.encoder_head}_encoder"
    if config.classify_every != 1:
        name += f"_classify_every{config.classify_every}"
    if config.discriminator_steps != 1:
        name += f"_dsteps{config.discriminator_steps}"
    if config.seed:
        name += f"_seed{config.seed}"
    if config.precision != "auto":
        name += f"_{config.precision}"
    return name


def runs_in(save_dir: Path) -> list[str]:
    """Names of the folders in ``save_dir`` that hold a complete checkpoint."""
    if not save_dir.is_dir():
        return []
    return sorted(p.name for p in save_dir.iterdir() if checkpoints.saved_epochs(p))


def choose_epoch(folder: Path, epoch: int | None) -> int:
    """``epoch`` (default: the newest) if ``folder`` has its checkpoint; else say what exists."""
    available = checkpoints.saved_epochs(folder)
    if not available:
        others = runs_in(folder.parent)
        listing = (
            f"; runs there: {', '.join(others)} (look at one with --run NAME)" if others else ""
        )
        raise AAEError(
            f"no trained run {folder.name} in {folder.parent}{listing}; train it "
            "first with the same flags"
        )
    if epoch is None:
        return available[-1]
    if epoch not in available:
        raise AAEError(
            f"no checkpoint for epoch {epoch} in {folder} (epochs saved: "
            f"{', '.join(map(str, available))}); train first with the same flags"
        )
    return epoch


def saved_config(folder: Path, epoch: int) -> TrainConfig:
    """The settings a run was trained with, from its checkpoint's manifest."""
    path = checkpoints.epoch_path(folder, epoch)
    try:
        return TrainConfig.from_dict(checkpoints.read_manifest(path)["config"])
    except (KeyError, TypeError, ValueError) as error:
        raise AAEError(
            f"{path.with_suffix('.json')} does not describe a run of this aae_lib ({error})"
        ) from None


def check_viz(config: TrainConfig, name: str) -> None:
    if config.model.ncode != 2 and not config.classify:
        raise UsageError(
            f"--viz needs --ncode 2 (run {name} has ncode {config.model.ncode}): "
            "the latent space is drawn in 2-D"
        )


# ----------------------------------------------------------------------------- actions
def progress_printer(viz_every: int) -> Callable[[Trainer], None]:
    """Trainer.on_epoch_end: one line per epoch, and the figures every ``viz_every`` epochs, so
    that a long run can be watched (also with --no-progress)."""

    def on_epoch_end(trainer: Trainer) -> None:
        print(trainer.epoch_summary(), flush=True)
        if viz_every and trainer.epochs_done % viz_every == 0:
            epoch, folder = trainer.epochs_done - 1, trainer.save_dir
            written = draw_samples(trainer, folder, f"_{epoch}") + draw_codes(
                trainer, folder, f"epoch {epoch}, {folder.name}", f"_{epoch}", manifolds=False
            )
            print(f"wrote {', '.join(written)} in {folder}", flush=True)

    return on_epoch_end


def train(trainer: Trainer) -> None:
    folder = trainer.save_dir
    if trainer.resume():
        changes = [
            c
            for r in trainer.resumptions
            if r["epoch"] == trainer.epochs_done
            for c in r["changes"]
        ]
        with_changes = f" ({'; '.join(changes)})" if changes else ""
        if trainer.epochs_done >= trainer.config.epochs:
            advice = (
                ": nothing is trained with the new settings; raise --maxepoch to go on "
                "with them, or give another --save-dir to start afresh"
                if changes
                else ""
            )
            print(
                f"already trained {plural(trainer.epochs_done, 'epoch')} in {folder}"
                f"{with_changes}{advice}"
            )
            return
        print(f"resuming from epoch {trainer.epochs_done - 1} in {folder}{with_changes}")
    trainer.fit()
    print(trainer.speed_report())
    print(
        f"checkpoints in {folder}; look at them with --generate/--viz and the same flags, "
        f"or --run {folder.name}"
    )


def divergence_advice(config: TrainConfig) -> str:
    """A command that retries with half the learning rates (a resume may change them)."""
    if config.optimizer == "sgd":  # --recipe paper: its rates are scaled by the weight flags
        halved = " ".join(
            f"--{flag} {config.weights[phase] / 2:g}"
            for flag, phase in WEIGHT_FLAGS.items()
            if phase in config.phases
        )
        return f"run the same command with {halved} to halve every phase's learning rate"
    return f"run the same command with --lr {config.lr / 2:g}"


def look(trainer: Trainer, args) -> None:
    """--generate and --viz: the figures of the chosen epoch, in the run's folder."""
    epoch = choose_epoch(trainer.save_dir, args.load)
    trainer.load(checkpoints.epoch_path(trainer.save_dir, epoch), resume=False)
    folder = trainer.save_dir
    print(f"using epoch {epoch} from {folder}")
    written = draw_samples(trainer, folder) if args.generate else []
    if args.viz:
        written += draw_codes(trainer, folder, f"{folder.name}, epoch {epoch}")
    print(f"wrote {', '.join(written)} in {folder}")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(format="%(message)s")
    logging.getLogger("aae_lib").setLevel(logging.INFO)  # say where MNIST came from
    return guarded("aae_lib", lambda: run_flags(argv))


def run_flags(argv: list[str] | None) -> None:
    """What the reference's flags ask for: train, then draw the figures, or either alone."""
    args = parse_flags(argv)
    if args.run is not None:
        folder = args.save_dir / args.run
        config = saved_config(folder, choose_epoch(folder, args.load))
    else:
        try:
            config = config_from_args(args)
        except ValueError as error:
            raise UsageError(str(error)) from None
        folder = args.save_dir / run_name(config)
    if args.viz:
        check_viz(config, folder.name)
    if not args.training:
        choose_epoch(folder, args.load)  # before loading MNIST: is there such a run?
    trainer = open_trainer(
        config,
        folder,
        resolve_device(args.device),
        args.data_dir,
        progress=not args.no_progress,
        on_epoch_end=progress_printer(pick(args.viz_every, 10)),
    )
    if args.training:
        try:
            train(trainer)
        except TrainingDiverged as error:
            raise TrainingDiverged(f"{error}: {divergence_advice(config)}") from None
    if args.generate or args.viz:
        look(trainer, args)
