"""The ``nlens`` command line: a thin layer over the library.

Each subcommand parses its options, calls one library function, and renders the result
with Rich. Library imports happen inside the commands so ``nlens --help`` stays fast.
"""

from __future__ import annotations

import typer

from . import data, funding, neighbourhoods
from . import web as _web
from .doctor import doctor
from .left_behind import left_behind

app = typer.Typer(
    name="nlens",
    help="neighbourhood-lens: deprivation, need and funding at the scale of the neighbourhood in England.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(data.app, name="data")
app.add_typer(funding.app, name="funding")
app.add_typer(neighbourhoods.app, name="neighbourhoods")
app.command("left-behind")(left_behind)
app.command("doctor")(doctor)
from .geography_cmds import register as _register_geography  # noqa: E402

_register_geography(app)
app.command("serve")(_web.serve)
app.command("report")(_web.report)
from . import summaries as _summaries  # noqa: E402

for _name in ("summarise", "trajectory", "movers", "entrenched"):
    app.command(_name)(getattr(_summaries, _name))


def main() -> None:
    """Entry point of the ``nlens`` script."""
    app()


__all__ = ["app", "main"]
