"""The ``nlens`` command line: a thin layer over the library.

Each subcommand parses its options, calls one library function, and renders the result
with Rich. Library imports happen inside the commands so ``nlens --help`` stays fast.
Commands are grouped in ``--help`` by what users do: get the data, find places, measure
where deprivation sits, follow change, audit funding, and share results.
"""

from __future__ import annotations

import typer

from . import data, funding, geography_cmds, neighbourhoods, summaries, web
from . import index as index_cmds
from . import programme as programme_cmds
from .doctor import doctor
from .evaluate import evaluate
from .funding_fetch import fetch as funding_fetch
from .left_behind import left_behind
from .search_cmd import search

app = typer.Typer(
    name="nlens",
    help="neighbourhood-lens: deprivation, need and funding at the scale of the neighbourhood in England.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

_DATA, _PLACES, _WHERE = "Data", "Find places", "Where deprivation sits"
_CHANGE, _MONEY, _SHARE = "Change over time", "Funding", "Web and reports"

app.add_typer(data.app, name="data", rich_help_panel=_DATA)
app.command("doctor", rich_help_panel=_DATA)(doctor)
app.command("left-behind", rich_help_panel=_PLACES)(left_behind)
app.add_typer(neighbourhoods.app, name="neighbourhoods", rich_help_panel=_PLACES)
app.add_typer(index_cmds.app, name="index", rich_help_panel=_PLACES)
app.command("summarise", rich_help_panel=_PLACES)(summaries.summarise)
for _name, _fn in geography_cmds.COMMANDS.items():
    app.command(_name, rich_help_panel=_WHERE)(_fn)
for _name in ("trajectory", "movers", "entrenched"):
    app.command(_name, rich_help_panel=_CHANGE)(getattr(summaries, _name))
funding.app.command("fetch")(funding_fetch)
app.add_typer(funding.app, name="funding", rich_help_panel=_MONEY)
app.add_typer(programme_cmds.app, name="programme", rich_help_panel=_MONEY)
app.command("evaluate", rich_help_panel=_CHANGE)(evaluate)
app.command("serve", rich_help_panel=_SHARE)(web.serve)
app.command("report", rich_help_panel=_SHARE)(web.report)
app.command("search", rich_help_panel=_PLACES)(search)


def _version(value: bool) -> None:
    if value:
        from neighbourhood_lens import __version__

        typer.echo(f"neighbourhood-lens {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """neighbourhood-lens: deprivation, need and funding at the scale of the neighbourhood in England."""


def main() -> None:
    """Entry point of the ``nlens`` script."""
    app()


__all__ = ["app", "main"]
