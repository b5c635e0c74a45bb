"""``aae train RECIPE`` and ``aae show RUN``.

``aae train`` trains any recipe of :data:`aae_lib.recipes.RECIPES`; ``--set FIELD=VALUE``
changes a field of its ``TrainConfig`` or ``ModelConfig`` (``--set weights.generator_z=3`` one
loss weight). The run lives in ``<save-dir>/<recipe>`` for the recipe as it is, or
``<recipe>-<hash>`` where a setting that makes another model is changed; settings a resume may
change (epochs, learning rates, loss weights, milestones) keep the folder, and the manifest
records the change. An interrupted run resumes when the same command is given again.

``aae show RUN`` draws a run's samples and, for 2-D codes or a classifier, its codes and
confusion matrix, into the run's folder.
"""

from __future__ import annotations

import hashlib
import json
import types
import typing
from dataclasses import fields, replace
from pathlib import Path

from ..errors import AAEError
from ..models import ModelConfig
from ..recipes import RECIPES
from ..train import RESUMABLE_CHANGES, TrainConfig
from .args import (
    Parser,
    UsageError,
    add_device,
    add_precision,
    natural_int,
    open_trainer,
    positive_int,
)

DEFAULT_SAVE_DIR = Path("aae_out")
TRUE, FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")


# ----------------------------------------------------------------------------- --set values
def parse_value(text: str, kind, field: str):
    """``text`` as a value of the annotated type ``kind``; one rule per kind of value."""
    options = typing.get_args(kind)
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        if text.lower() == "none" and type(None) in options:
            return None
        (kind,) = [option for option in options if option is not type(None)]
        return parse_value(text, kind, field)
    if typing.get_origin(kind) is typing.Literal:
        if text not in options:
            raise UsageError(f"--set {field}: {text!r} is not one of {', '.join(options)}")
        return text
    try:
        if kind is bool:
            if text.lower() not in TRUE + FALSE:
                raise ValueError
            return text.lower() in TRUE
        if kind in (int, float, str):
            value = kind(text)
            if kind is float and value != value:  # nan: no setting means that
                raise ValueError
            return value
        if typing.get_origin(kind) is tuple and typing.get_args(kind)[0] is int:
            return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(f"--set {field}: {text!r} is not a {kind_name(kind)}") from None
    raise UsageError(f"--set cannot set {field}; change the recipe in aae_lib/recipes.py")


def kind_name(kind) -> str:
    if typing.get_origin(kind) is tuple:
        return "comma-separated list of whole numbers"
    return {bool: "true or false", int: "whole number", float: "number"}.get(kind, "text")


def apply_settings(config: TrainConfig, settings: list[str]) -> TrainConfig:
    """``config`` with every ``FIELD=VALUE`` applied (fields of the run or of the model)."""
    run_types = typing.get_type_hints(TrainConfig)
    model_types = typing.get_type_hints(ModelConfig)
    run, model, weights = {}, {}, dict(config.weights)
    for setting in settings:
        name, equals, text = setting.partition("=")
        name = name.strip().replace("-", "_")
        if not equals:
            raise UsageError(f"--set takes FIELD=VALUE, not {setting!r}")
        if name.startswith("weights."):
            phase = name.removeprefix("weights.")
            if phase not in weights:
                raise UsageError(
                    f"--set {name}: no loss weight {phase!r}; the weights are {', '.join(weights)}"
                )
            weights[phase] = parse_value(text, float, name)
        elif name in model_types and name != "adversaries":
            model[name] = parse_value(text, model_types[name], name)
        elif name in run_types and name not in ("model", "weights"):
            run[name] = parse_value(text, run_types[name], name)
        else:
            names = [f.name for f in fields(TrainConfig) if f.name not in ("model", "weights")]
            names += [f.name for f in fields(ModelConfig) if f.name != "adversaries"]
            raise UsageError(
                f"--set: no field {name!r}; fields: {', '.join(sorted(names))}, weights.PHASE"
            )
    return replace(config, model=replace(config.model, **model), weights=weights, **run)


def run_folder(save_dir: Path, name: str, config: TrainConfig) -> Path:
    """``save_dir/name`` for the recipe's model, ``name-<hash>`` for another one."""

    def identity(c: TrainConfig) -> dict:
        values = c.to_dict()
        return {k: v for k, v in values.items() if k not in RESUMABLE_CHANGES}

    if identity(config) == identity(RECIPES[name]):
        return save_dir / name
    digest = hashlib.sha256(json.dumps(identity(config), sort_keys=True).encode())
    return save_dir / f"{name}-{digest.hexdigest()[:8]}"


# ----------------------------------------------------------------------------- aae train
def train_parser() -> Parser:
    p = Parser(prog="aae train", description="train any recipe of aae_lib.recipes")
    p.add_argument(
        "recipe",
        choices=sorted(RECIPES),
        metavar="RECIPE",
        help=f"one of: {', '.join(sorted(RECIPES))}",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="change a field of the recipe's TrainConfig or ModelConfig "
        "(e.g. epochs=1, ncode=4, lr_milestones=50,100, weights.generator_z=3)",
    )
    p.add_argument("--epochs", type=positive_int, help="the same as --set epochs=N")
    add_device(p)
    add_precision(p, default=None)
    p.add_argument("--seed", type=natural_int, help="the same as --set seed=N")
    p.add_argument(
        "--save-dir",
        type=Path,
        default=DEFAULT_SAVE_DIR,
        help=f"where runs keep checkpoints (default ./{DEFAULT_SAVE_DIR})",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        help="where MNIST is or goes (default $AAE_DATA_DIR or ~/.cache/aae_lib)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    from ..bookkeeping import check_fits
    from ..train import resolve_device

    args = train_parser().parse_args(argv)
    settings = list(args.set)
    if args.epochs is not None:
        settings.append(f"epochs={args.epochs}")
    if args.seed is not None:
        settings.append(f"seed={args.seed}")
    config = apply_settings(RECIPES[args.recipe], settings)
    folder = run_folder(args.save_dir, args.recipe, config)
    device = resolve_device(args.device)
    check_fits(config.model, device)
    trainer = open_trainer(
        config,
        folder,
        device,
        args.data_dir,
        progress=not args.no_progress,
        precision=args.precision,
        on_epoch_end=lambda t: print(t.epoch_summary()),
    )
    if trainer.resume():
        print(f"resuming {folder} after epoch {trainer.epochs_done - 1}")
    trainer.fit()
    print(trainer.speed_report())
    print(f"checkpoints in {folder}; draw its figures with: aae show {folder}")
    return 0


# ----------------------------------------------------------------------------- aae show
def show(argv: list[str] | None = None) -> int:
    from .. import checkpoints
    from ..train import resolve_device
    from .figures import draw_codes, draw_samples
    from .reference import choose_epoch, saved_config

    p = Parser(prog="aae show", description="draw a trained run's figures into its folder")
    p.add_argument(
        "run", type=Path, metavar="RUN", help="the run's folder, or its name in --save-dir"
    )
    p.add_argument("--epoch", type=natural_int, help="default: the newest checkpoint")
    p.add_argument("--save-dir", type=Path, default=DEFAULT_SAVE_DIR)
    p.add_argument("--data-dir", type=Path)
    add_device(p)
    args = p.parse_args(argv)
    folder = args.run if args.run.is_dir() else args.save_dir / args.run
    if not folder.is_dir():
        raise AAEError(f"no run {args.run}: not a folder, nor one in {args.save_dir}")
    epoch = choose_epoch(folder, args.epoch)
    config = saved_config(folder, epoch)
    device = resolve_device(args.device)
    trainer = open_trainer(config, folder, device, args.data_dir, progress=False)
    trainer.load(checkpoints.epoch_path(folder, epoch), resume=False)
    written = draw_samples(trainer, folder) + draw_codes(
        trainer, folder, f"{folder.name}, epoch {epoch}"
    )
    print(f"wrote {', '.join(written)} in {folder}")
    return 0
