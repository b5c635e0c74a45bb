"""The command line, ``aae`` (also ``python -m aae_lib``)."""

from .reference import main

__all__ = ["main"]
