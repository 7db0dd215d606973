"""The ``nlens`` command line: a thin layer over the library.

Each subcommand parses its options, calls one library function, and renders the result
with Rich. Library imports happen inside the commands so ``nlens --help`` stays fast.
"""

from __future__ import annotations

import typer

from . import data
from .doctor import doctor
from .left_behind import left_behind

app = typer.Typer(
    name="nlens",
    help="neighbourhood-lens: deprivation, need and funding at the scale of the neighbourhood in England.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(data.app, name="data")
app.command("left-behind")(left_behind)
app.command("doctor")(doctor)


def main() -> None:
    """Entry point of the ``nlens`` script."""
    app()


__all__ = ["app", "main"]
