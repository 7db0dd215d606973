"""``nlens search``: find LSOAs, MSOAs, wards, local authorities and regions by code or name."""

from __future__ import annotations

from typing import Annotated

import typer

from ._common import DbOption, FormatOption, OutputFormat, console, emit, handle_errors


@handle_errors
def search(
    text: Annotated[str, typer.Argument(help="Part of a name or code, any case, e.g. Jaywick or E05011963.")],
    types: Annotated[str | None, typer.Option(
        "--type", help="Only these area types, comma-separated: lsoa, msoa, ward, lad, region.")] = None,
    top: Annotated[int, typer.Option(help="Rows to show (0 = all).")] = 25,
    fmt: FormatOption = OutputFormat.auto,
    db: DbOption = None,
) -> None:
    """Find areas by code or name in every vintage the warehouse holds; close spellings when nothing matches."""
    from ..places import search as find
    from ..warehouse import connect

    kinds = [t.strip().lower() for t in types.split(",") if t.strip()] if types else None
    found = find(connect(db), text, types=kinds, limit=None)
    if found.empty:
        console.print(f"No area matches {text!r}. Try part of the name, or a code.", highlight=False)
        raise typer.Exit(1)
    how = "similar name" if (found["match"] == "similar").all() else "match"
    how = how if len(found) == 1 else ("similar names" if how == "similar name" else "matches")
    console.print(f"[bold]{len(found):,}[/] {how} for {text!r}.", highlight=False)
    emit(found[["code", "name", "type", "vintage", "lad_name", "match"]], title=f"Areas matching {text!r}",
         limit=top, hint="--top 0")
