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
from . import outcomes as outcomes_cmds
from . import programme as programme_cmds
from .doctor import doctor
from .evaluate import evaluate
from .funding_fetch import fetch as funding_fetch
from .left_behind import left_behind
from .search_cmd import search


def _plain_help() -> None:
    """Help in the usual Unix style: flags show no ``<bool>`` type, arguments read ``SPEC`` / ``[SPEC]``.

    Typer (0.29) renders a flag's type as ``<bool>`` and a required argument as ``{spec}``; these
    two display methods are the only hooks it offers, so they are replaced here, once.
    """
    from typer import core

    option, argument = getattr(core, "TyperOption", None), getattr(core, "TyperArgument", None)
    if option is not None and hasattr(option, "display_type_rich") and not getattr(option, "_nlens_plain", False):
        shown = option.display_type_rich

        def display_type_rich(self, ctx):  # noqa: ANN001, ANN202
            return None if getattr(self, "is_flag", False) and not getattr(self, "count", False) else shown(self, ctx)

        option.display_type_rich, option._nlens_plain = display_type_rich, True
    if argument is not None and hasattr(argument, "_usage_display_name"):
        def usage(self) -> str:  # noqa: ANN001
            name = (self.metavar or self.name or "").upper()
            name = name if self.required else f"[{name}]"
            return name + ("..." if self.nargs != 1 else "")

        argument._usage_display_name = usage


_plain_help()

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
app.add_typer(outcomes_cmds.app, name="outcomes", rich_help_panel=_PLACES)
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
