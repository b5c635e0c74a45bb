"""What every ``aae`` subcommand shares: one argument type per kind of value, one set of
defaults, a parser whose errors are one line, and one way to report failures.

Every subcommand runs inside :func:`guarded`, so that a problem the user can fix (an
``AAEError``, a value a config refuses, a file that cannot be read or written) is one line on
standard error with no traceback, and Ctrl-C is one line that says how to resume.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path

from ..errors import AAEError
from ..precision import PRECISIONS

DEFAULT_DEVICE = "auto"
DEFAULT_PRECISION = "auto"
DEVICES = ("auto", "cpu", "cuda", "mps")


class UsageError(AAEError):
    """Arguments that contradict each other or do not apply: exit code 2, like argparse's."""


class Parser(argparse.ArgumentParser):
    """Bad arguments end in one line naming the problem, not a usage dump."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def whole_number(minimum: int, meaning: str = "") -> Callable[[str], int]:
    """An argparse type: an integer of at least ``minimum``; argparse names the flag."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}{meaning}, not {value}")
        return value

    return parse


positive_int = whole_number(1)
natural_int = whole_number(0)


def real_number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None


def positive_rate(text: str) -> float:
    """Learning rates and loss weights: 0 trains nothing, nan, inf or < 0 wrecks the model."""
    value = real_number(text)
    if not (math.isfinite(value) and value > 0):
        why = " (0 would train nothing)" if value == 0 else ""
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, not {text}{why}")
    return value


def keep_probability(text: str) -> float:
    value = real_number(text)
    if not 0 < value <= 1:  # also false for nan
        raise argparse.ArgumentTypeError(
            f"is a keep probability: it must be in (0, 1], 1 meaning no dropout; not {text}"
        )
    return value


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device",
        default=DEFAULT_DEVICE,
        choices=DEVICES,
        help=f"where to train (default {DEFAULT_DEVICE}: CUDA, then MPS, then the CPU)",
    )


def add_precision(parser: argparse.ArgumentParser, default: str | None = DEFAULT_PRECISION):
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=default,
        help="auto (default): bf16 autocast where the hardware multiplies bf16 natively and a "
        "probe, cached per machine, finds it faster; fp32 elsewhere. A resumed run keeps the "
        "precision it was started with unless this is given.",
    )


def add_run_options(parser: argparse.ArgumentParser, runs_help: str | None = None) -> None:
    """The options of every command that trains book models into a folder of runs:
    ``--device``, ``--precision``, ``--runs`` and ``--data-dir``."""
    add_device(parser)
    add_precision(parser, default=None)
    parser.add_argument(
        "--runs",
        type=Path,
        default=Path("runs"),
        help=runs_help or "checkpoints of each run (an interrupted run resumes)",
    )
    parser.add_argument("--data-dir", type=Path, help="where MNIST is or goes")


def add_weights_destination(parser: argparse.ArgumentParser) -> None:
    """``--out FOLDER`` or ``--replace-book-weights``: where exported weights go."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--out",
        type=Path,
        help="folder for the exported weights (default $AAE_CHECKPOINTS or "
        "~/.cache/aae_lib/checkpoints, where the notebooks look for your own weights)",
    )
    where.add_argument(
        "--replace-book-weights",
        action="store_true",
        help="overwrite the committed weights (the clone's weights/ folder)",
    )


def weights_destination(args: argparse.Namespace) -> Path:
    """The folder that ``add_weights_destination``'s options chose."""
    from .. import pretrained

    if args.replace_book_weights:
        return pretrained.WEIGHTS_DIR
    return args.out or pretrained.user_weights_dir()


def check_output_file(path: Path) -> None:
    """Fail before any work if ``path`` cannot be written (its folder is created)."""
    from ..files import check_writable

    check_writable(path)


def open_trainer(config, folder: Path, device, data_dir: Path | None, **options):
    """The ``Trainer`` of ``config`` on ``device``, saving to ``folder``, which is checked
    writable before MNIST is loaded, let alone any training done."""
    from .. import checkpoints
    from ..data import load_mnist
    from ..train import Trainer

    checkpoints.ensure_writable(folder)
    data = load_mnist(data_dir, device=device)
    return Trainer(config, data, device, save_dir=folder, **options)


def guarded(prog: str, work: Callable[[], object], resume_hint: str | None = None) -> int:
    """Run ``work``; return its exit code, reporting failures as one line on stderr."""
    try:
        result = work()
    except UsageError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    except AAEError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 1
    except ValueError as error:  # a config's own validation: the values given are refused
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        print(f"{prog}: error: {error.strerror or error}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        hint = resume_hint or "run the same command again to resume from the last checkpoint"
        print(f"\n{prog}: interrupted: {hint}", file=sys.stderr)
        return 130
    return result if isinstance(result, int) else 0
