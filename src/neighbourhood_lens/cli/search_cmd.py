"""``nlens search``: find LSOAs, MSOAs, wards, local authorities and regions by code or name."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.text import Text

from neighbourhood_lens._isin import isin

from ._common import DbOption, FormatOption, OutputFormat, console, emit, handle_errors


@handle_errors
def search(
    text: Annotated[str, typer.Argument(help="Part of a name or code, any case, e.g. Jaywick or E05011963.")],
    types: Annotated[str | None, typer.Option(
        "--type", help="Only these area types, comma-separated: lsoa, msoa, ward, lad, region.")] = None,
    top: Annotated[int, typer.Option(help="Rows to show (0 = all).")] = 25,
    within: Annotated[bool, typer.Option(help="Also list the LSOAs inside matched wards and MSOAs (up to 3).")] = True,
    fmt: FormatOption = OutputFormat.auto,
    db: DbOption = None,
) -> None:
    """Find areas by code or name in every vintage the warehouse holds; close spellings when nothing matches."""
    from neighbourhood_lens.geo.places import lsoas_within
    from neighbourhood_lens.geo.places import search as find

    from ..warehouse import connect

    con = connect(db)
    kinds = [t.strip().lower() for t in types.split(",") if t.strip()] if types else None
    found = find(con, text, types=kinds, limit=None)
    if found.empty:
        console.print(Text(f"No area matches {text!r}. Try part of the name, or a code."), highlight=False)
        raise typer.Exit(1)
    how = "similar name" if (found["match"] == "similar").all() else "match"
    how = how if len(found) == 1 else ("similar names" if how == "similar name" else "matches")
    console.print(f"[bold]{len(found):,}[/] {how} for {escape(repr(text))}.", highlight=False)
    emit(found[["code", "name", "type", "vintage", "lad_name", "match"]], title=f"Areas matching {text!r}",
         limit=top, hint="--top 0")
    parents = found[isin(found["type"], ["ward", "msoa"]) & (found["match"] != "similar")]
    if within and 0 < len(parents) <= 3:
        inside = lsoas_within(con, parents["code"].tolist())
        if len(inside):
            emit(inside, title="LSOAs inside (best fit), most deprived first; imd_decile 1 = most deprived 10% "
                               "(IoD2019 for 2011 LSOAs, IoD2025 for 2021)", limit=top, hint="--top 0")
