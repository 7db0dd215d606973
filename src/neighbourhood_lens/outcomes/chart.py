"""A dot plot of an outcome comparison: one row per outcome, one colour per group, 95% CIs.

Outcomes come in different units (shares, rates per 10,000, standardised ratios, z-scores,
kilometres), so the x axis is the **standardised gap from England**,

.. math:: x = \\sigma_o \\, \\frac{\\hat\\theta_g - \\hat\\theta_{England}}{s_o}

with :math:`s_o` the (denominator-weighted) standard deviation of the outcome across English
LSOAs and :math:`\\sigma_o = +1` when higher is worse, :math:`-1` otherwise, so **right is
always worse** and 0 is England. A gap of 1 is one LSOA standard deviation. The printed value
of each group sits at the right edge in the outcome's own unit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from neighbourhood_lens.errors import DataError

__all__ = ["standardised_gaps", "dot_plot"]

_COLOURS = {"left_behind": "#c0392b", "other_deprived": "#2e86c1", "england": "#555555"}
_EXTRA = ["#27ae60", "#8e44ad", "#d68910", "#17a589"]


def standardised_gaps(table: pd.DataFrame) -> pd.DataFrame:
    """``outcome, group, x, x_low, x_high`` (right = worse) from a comparison table.

    >>> t = pd.DataFrame({"outcome": ["a", "a"], "group": ["g", "england"], "value": [0.3, 0.2],
    ...     "ci_low": [0.25, 0.19], "ci_high": [0.35, 0.21], "lsoa_sd": [0.1, 0.1],
    ...     "higher_is_worse": [False, False]})
    >>> standardised_gaps(t).round(2)[["group", "x", "x_low", "x_high"]].to_dict("list")
    {'group': ['g', 'england'], 'x': [-1.0, 0.0], 'x_low': [-1.5, -0.1], 'x_high': [-0.5, 0.1]}
    """
    eng = table[table["group"] == "england"].set_index("outcome")["value"]
    if eng.empty:
        raise DataError("the chart needs the england group in the table")
    ref = table["outcome"].map(eng).to_numpy(dtype=float)
    sign = np.where(table["higher_is_worse"].astype(bool), 1.0, -1.0)
    sd = table["lsoa_sd"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = sign * (table["value"].to_numpy(dtype=float) - ref) / sd
        lo = sign * (table["ci_low"].to_numpy(dtype=float) - ref) / sd
        hi = sign * (table["ci_high"].to_numpy(dtype=float) - ref) / sd
    return pd.DataFrame({"outcome": table["outcome"].to_numpy(), "group": table["group"].to_numpy(),
                         "x": x + 0.0, "x_low": np.minimum(lo, hi) + 0.0, "x_high": np.maximum(lo, hi) + 0.0})


def dot_plot(table: pd.DataFrame, path: str | Path, *, title: str = "") -> Path:
    """Draw the comparison as a PNG (or SVG/PDF by suffix) at ``path``; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if "region" in table.columns:
        raise DataError("the chart shows the national comparison; run without --by region to draw it")
    path = Path(path)
    gaps = standardised_gaps(table)
    outcomes = list(dict.fromkeys(table["outcome"]))
    first = table.drop_duplicates("outcome").set_index("outcome")
    groups = list(dict.fromkeys(table["group"]))
    colours = {g: _COLOURS.get(g) or _EXTRA[i % len(_EXTRA)] for i, g in enumerate(groups)}
    fig, ax = plt.subplots(figsize=(10, 0.34 * len(outcomes) + 1.6))
    offsets = np.linspace(-0.22, 0.22, len(groups)) if len(groups) > 1 else [0.0]
    ypos = {o: len(outcomes) - 1 - i for i, o in enumerate(outcomes)}
    for off, g in zip(offsets, groups, strict=True):
        sub = gaps[gaps["group"] == g]
        y = sub["outcome"].map(ypos).to_numpy() + off
        ax.errorbar(sub["x"], y, xerr=[sub["x"] - sub["x_low"], sub["x_high"] - sub["x"]], fmt="o", ms=4,
                    color=colours[g], ecolor=colours[g], elinewidth=1, capsize=0, label=g.replace("_", " "))
    ax.axvline(0, color="#999999", lw=0.8)
    ax.set_yticks([ypos[o] for o in outcomes])
    ax.set_yticklabels([f"{first.loc[o, 'label']} ({first.loc[o, 'year']}, {first.loc[o, 'unit']})"
                        for o in outcomes], fontsize=8)
    ax.set_xlabel("gap from England, in LSOA standard deviations of the outcome\n"
                  "(right = worse, 0 = England; bars: 95% area-bootstrap CI)", fontsize=9)
    ax.set_ylim(-0.7, len(outcomes) - 0.3)
    ax.grid(axis="x", color="#eeeeee")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.set_title(title or "Outcomes by group", fontsize=11, loc="left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path
