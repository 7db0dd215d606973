"""Files a user supplies for datasets with no fixed address, rebuilt from the mirror in the real layouts.

* DWP Stat-Xplore CSV exports (as in MatteoLarrode/ChildrenLowIncomeHouseholdsUK inst/extdata):
  areas by ONS MSOA 2011 **name**, one column per financial year or month (``2021/22 (p)``,
  ``December 2022 (r)``) each followed by a ``... - Annotations`` column, ``..`` for nil or
  negligible, the Welsh MSOAs and Scottish intermediate zones after the English ones, ``Unknown``
  and ``Total`` rows, then footnotes. The children export is trimmed to its header row (as in that
  repository); the UC export keeps Stat-Xplore's title block.
* ONS WD21 ward boundaries as the hub download API's GeoJSON (``FID, WD21CD, WD21NM, WD21NMW,
  LONG, LAT, GlobalID`` properties, WGS84).

Built in memory at test time; nothing is written into the repository.
"""

from __future__ import annotations

import calendar
import csv
import io
import json
from pathlib import Path

import pandas as pd

__all__ = ["statxplore_export", "ward21_geojson"]


def _other_areas(mirror: Path) -> pd.Series:
    """Names of the Welsh MSOAs and Scottish intermediate zones (repeats kept, as in the exports)."""
    lookup = pd.read_parquet(mirror / "lookup_lsoa11_msoa11.parquet", columns=["msoa11_code", "msoa11_name"])
    areas = lookup.drop_duplicates("msoa11_code")
    return areas.loc[~areas["msoa11_code"].str.startswith("E"), "msoa11_name"].reset_index(drop=True)


def statxplore_export(mirror: Path, dataset_id: str) -> bytes:
    """The Stat-Xplore CSV export that the mirror's ``dataset_id`` was read from (see the module docstring)."""
    frame = pd.read_parquet(mirror / f"{dataset_id}.parquet")
    monthly = dataset_id == "uc_households_msoa11"
    period, value = ("month", "households_on_uc") if monthly else ("financial_year", "children_relative_low_income")
    status = frame.groupby(period)["status"].first()

    def label(p: str) -> str:
        text = f"{calendar.month_name[int(p[5:])]} {p[:4]}" if monthly else p
        return text + (f" ({status[p]})" if isinstance(status[p], str) else "")

    wide = frame.pivot(index="msoa11_name", columns=period, values=value)
    wide = wide.loc[frame.drop_duplicates("msoa11_code")["msoa11_name"]]  # in code order, as DWP lists them
    others = _other_areas(mirror)
    filler = pd.DataFrame(7, index=others, columns=wide.columns)  # Welsh and Scottish rows: any counts
    totals = pd.DataFrame([wide.sum().to_numpy(), wide.sum().to_numpy()], index=["Unknown", "Total"],
                          columns=wide.columns)
    body = pd.concat([wide, filler, totals]).astype("Int64").astype(str).replace("<NA>", "..")
    cells = pd.DataFrame(index=body.index)
    header = ["Month" if monthly else "Year"]
    for p in wide.columns:  # DWP's annotation column carries the bare label: "2021/22 - Annotations"
        bare = label(p).removesuffix(" (p)").removesuffix(" (r)")
        cells[label(p)] = body[p].to_numpy()
        cells[bare + " - Annotations"] = ""
        header += [label(p), bare + " - Annotations"]
    out = io.StringIO()
    w = csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    if monthly:
        out.write('Stat-Xplore\n\n"Households on Universal Credit (I II III IV z)"\n'
                  '"National - Regional - LA - OAs by Month"\n"Counting: Households on Universal Credit"\n\n'
                  'Filters:\n"Default Summation","Households on Universal Credit"\n\n')
    w.writerow([*header, ""])
    w.writerow(["National - Regional - LA - OAs" + ("" if monthly else " (GB)"), ""])
    cells.insert(len(cells.columns), "", "")
    cells.to_csv(out, header=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    out.write('\n\n"INFO","Statistical disclosure control has been applied to this table to avoid the release of '
              'confidential data.  Totals may not sum due to the disclosure control applied."\n\n\n'
              'Symbol,Description\n"z",""".."" denotes a nil or negligible number of claimants."\n'
              '"p","Figures marked ""p"" are provisional."\n\nSource: Department for Work and Pensions\n')
    return out.getvalue().encode("utf-8")


def ward21_geojson(mirror: Path) -> bytes:
    """The WD21 ward boundaries as the ONS hub download API returns them (GeoJSON, WGS84)."""
    import geopandas as gpd
    import shapely

    gdf = gpd.read_parquet(mirror / "boundaries_ward21.parquet")
    props = pd.DataFrame({"FID": range(1, len(gdf) + 1), "WD21CD": gdf["ward21_code"], "WD21NM": gdf["ward21_name"],
                          "WD21NMW": " ", "LONG": 0.0, "LAT": 0.0, "GlobalID": "fixture"})
    attrs = [json.dumps(r) for r in props.to_dict("records")]
    geoms = shapely.to_geojson(gdf.geometry.to_numpy()).tolist()
    feats = ",".join(f'{{"type":"Feature","properties":{a},"geometry":{g}}}' for a, g in zip(attrs, geoms, strict=True))
    return f'{{"type":"FeatureCollection","name":"WD_DEC_2021_UK_BGC","features":[{feats}]}}'.encode()
