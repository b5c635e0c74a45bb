"""The command line, ``aae`` (also ``python -m aae_lib``).

    aae train RECIPE [--set FIELD=VALUE ...]   train any recipe of aae_lib.recipes.RECIPES
    aae show RUN                               draw a trained run's figures
    aae draws | control | train-book | export | bench

Without a subcommand the arguments are the reference's flags (``--train``, ``--viz``, ...),
translated onto a recipe by :mod:`aae_lib.cli.reference`. Every subcommand shares the argument
types and defaults of :mod:`aae_lib.cli.args` and reports a failure as one line.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    # name: (module:function taking argv and returning an exit code, one-line summary)
    "train": ("aae_lib.cli.train:main", "train any recipe, --set FIELD=VALUE to change it"),
    "show": ("aae_lib.cli.train:show", "draw a trained run's samples and codes"),
    "draws": ("aae_lib.runners.label_draws:main", "Table 2's label draws of a recipe"),
    "control": ("aae_lib.runners.control:main", "Table 2's supervised-only control"),
    "train-book": ("aae_lib.runners.train_book:main", "train and export every book model"),
    "export": ("aae_lib.runners.export:main", "train and export one book model"),
    "bench": ("benchmarks.train_speed:main", "training speed against a typical implementation"),
}


def overview() -> str:
    lines = ["usage: aae SUBCOMMAND [ARGS] (aae SUBCOMMAND --help for its arguments)", ""]
    lines += [f"  {name:<11} {summary}" for name, (_, summary) in SUBCOMMANDS.items()]
    lines += ["", "Without a subcommand: the reference's flags (aae --help-reference)."]
    return "\n".join(lines)


def subcommand(name: str) -> Callable[[list[str]], int | None]:
    import importlib

    module, function = SUBCOMMANDS[name][0].split(":")
    clone = Path(__file__).resolve().parents[2]
    if module.startswith("benchmarks.") and (clone / "benchmarks").is_dir():
        sys.path.insert(0, str(clone))  # the benchmarks live in the clone, not the package
    try:
        return getattr(importlib.import_module(module), function)
    except ModuleNotFoundError as error:
        from ..errors import AAEError

        raise AAEError(
            f"aae {name} needs {error.name}, which is in the clone, not the package: "
            "run it from a clone of the repository"
        ) from None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(overview())
        return 0
    if argv[0] == "--help-reference":
        argv = ["--help"]
    if argv[0] in SUBCOMMANDS:
        from .args import guarded

        name = argv[0]

        def run() -> int:
            result = subcommand(name)(argv[1:])
            return result if isinstance(result, int) else 0

        try:
            return guarded(f"aae {name}", run)
        except SystemExit as exit_:  # argparse's --help and one-line usage errors
            return exit_.code if isinstance(exit_.code, int) else 1
    if not argv[0].startswith("-"):
        print(
            f"aae: error: no subcommand {argv[0]!r}; choose one of {', '.join(SUBCOMMANDS)}",
            file=sys.stderr,
        )
        return 2
    from .reference import main as reference_main

    return reference_main(argv)


__all__ = ["main", "SUBCOMMANDS"]
