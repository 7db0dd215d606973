"""The specification of a composite index: what to read, how to orient, transform and weight it.

A spec is data. It is written in TOML, read with :mod:`tomllib` and validated once into an
:class:`IndexSpec`; the build and sensitivity functions take the validated object. Unknown keys
are refused with the key, the value and what is allowed.

.. code-block:: toml

    name = "IMD 2019 domains, equal weights"
    unit = "lsoa11"              # any unit of neighbourhood_lens.geo.units
    areas = "unit"               # "unit": every area of the unit; "data": the codes in the tables
    missing = "error"            # default rule for missing values: error | mean | drop_component | drop_area

    [[component]]
    name = "income"
    table = "imd2019_lsoa11"     # a warehouse table with a code column of the unit, or file = "my.csv"
    column = "Income_rank"       # matched case-insensitively, also via snake_case and the dataset normaliser
    need = "low"                 # "low": a low value means more need; "high": the opposite
    transform = "exponential"    # exponential | rank | zscore | minmax | none
    weight = 1
    winsorise = [0.01, 0.99]     # optional: clip the raw values at these quantiles first

    [[domain]]                   # a nested group: its components are aggregated into one domain value
    name = "access"
    weight = 1
    transform = "none"           # applied to the domain value before the top-level aggregation
    aggregate = "weighted_mean"
    [[domain.component]]
    ...

    [aggregate]
    method = "weighted_mean"     # weighted_sum | weighted_mean | geometric_mean

Components and domains are ordered as written: top-level components first, then domains.
The model's JSON schema (``IndexSpec.model_json_schema()``) is printed in ``docs/indices.md``.

References
----------
OECD/JRC (2008), *Handbook on Constructing Composite Indicators: Methodology and User Guide*,
steps 4-6 (missing data, normalisation, weighting and aggregation).
Becker, W. et al. (2022), COINr: an R package for developing composite indicators, *Journal of
Open Source Software* 7(78), 4567.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .._toml import read_toml
from ..errors import DataError

__all__ = [
    "TRANSFORMS",
    "AGGREGATIONS",
    "MISSING_RULES",
    "RESERVED_COLUMNS",
    "Component",
    "Domain",
    "Aggregate",
    "IndexSpec",
    "column_name",
    "load_spec",
    "parse_spec",
]

#: Transformations (all oriented so that higher = more need).
TRANSFORMS = ("exponential", "rank", "zscore", "minmax", "none")
#: Aggregation methods.
AGGREGATIONS = ("weighted_sum", "weighted_mean", "geometric_mean")
#: Rules for missing values.
MISSING_RULES = ("error", "mean", "drop_component", "drop_area")
#: Output columns a component or domain may not be called.
RESERVED_COLUMNS = ("code", "score", "rank", "decile")

Transform = Literal["exponential", "rank", "zscore", "minmax", "none"]
Method = Literal["weighted_sum", "weighted_mean", "geometric_mean"]
Missing = Literal["error", "mean", "drop_component", "drop_area"]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$",
                            description="the column name: derived from the label (see column_name)")]


def column_name(label: str) -> str:
    """The column-safe name of a component or domain label: lower case ASCII letters, digits and ``_``.

    Accents are dropped, every other run of characters becomes ``_``, a leading digit gets a
    ``c_`` prefix, and the result is at most 48 characters. A label with no Latin letter or
    digit at all gets ``c_`` and 8 hex digits of its SHA-1, so it is still stable. Applying it
    twice changes nothing.

    >>> [column_name(x) for x in ["Income", "Housing_and_Access", "Barriers to housing & services", "Santé", "2nd"]]
    ['income', 'housing_and_access', 'barriers_to_housing_services', 'sante', 'c_2nd']
    """
    import hashlib
    import re
    import unicodedata

    text = unicodedata.normalize("NFKD", str(label)).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9]+", "_", text).strip("_")
    if not text:
        return "c_" + hashlib.sha1(str(label).encode()).hexdigest()[:8]
    if not text[0].isalpha():
        text = "c_" + text
    return text[:48].rstrip("_")


def _label_to_name(data: object) -> object:
    """``name`` as written becomes ``label``; ``name`` becomes its :func:`column_name`."""
    if isinstance(data, dict) and isinstance(data.get("name"), str):
        label = data.get("label") or data["name"].strip()
        if not label:
            raise ValueError("name is empty; give every component and domain a name, e.g. name = \"Income\"")
        data = {**data, "label": label, "name": column_name(data["name"])}
    return data


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Component(_Model):
    """One indicator: a numeric column of a warehouse table or a CSV file, keyed by area code.

    ``name`` may be any label (``"Income"``, ``"Housing and access"``); it is kept as ``label``
    and ``name`` becomes the column-safe :func:`column_name` used for output columns.
    """

    name: Name
    label: str = Field("", description="the name as written in the spec (any text)")
    table: str | None = Field(None, description="warehouse table with a code column of the unit")
    file: Path | None = Field(None, description="CSV file with a 'code' (or unit code) column")
    column: str = Field(description="the indicator column (case-insensitive)")
    need: Literal["low", "high"] = Field(description="'low': a low value means more need; 'high': the opposite")
    transform: Transform = "rank"
    weight: float = Field(1.0, description="non-negative weight")
    winsorise: tuple[float, float] | None = Field(
        None, description="clip raw values at these quantiles [lower, upper] before transforming")
    missing: Missing | None = Field(None, description="rule for missing values (default: the spec's)")

    _label = model_validator(mode="before")(_label_to_name)

    @model_validator(mode="after")
    def _source(self) -> Component:
        if (self.table is None) == (self.file is None):
            raise ValueError(f"component {self.name!r}: give exactly one of table = \"...\" or file = \"...\"")
        if self.weight < 0:
            raise ValueError(f"component {self.name!r}: weight = {self.weight} is negative; weights must be >= 0")
        if self.winsorise is not None:
            lo, hi = self.winsorise
            if not 0 <= lo < hi <= 1:
                raise ValueError(f"component {self.name!r}: winsorise = {list(self.winsorise)} must be two "
                                 "quantiles 0 <= lower < upper <= 1, e.g. [0.01, 0.99]")
        return self


class Domain(_Model):
    """A group of components aggregated into one domain value, itself weighted at the top level (names as
    for :class:`Component`)."""

    name: Name
    label: str = Field("", description="the name as written in the spec (any text)")
    weight: float = 1.0
    transform: Transform = Field("none", description="applied to the domain value before the top level")
    aggregate: Method = "weighted_mean"
    component: list[Component] = Field(min_length=1)

    _label = model_validator(mode="before")(_label_to_name)

    @model_validator(mode="after")
    def _weights(self) -> Domain:
        if self.weight < 0:
            raise ValueError(f"domain {self.name!r}: weight = {self.weight} is negative; weights must be >= 0")
        _check_weights([c.weight for c in self.component], where=f"domain {self.name!r}")
        return self


class Aggregate(_Model):
    """The top-level aggregation."""

    method: Method = "weighted_mean"


class IndexSpec(_Model):
    """A composite index: its unit, components (and nested domains), missing rule and aggregation."""

    name: str = Field(min_length=1)
    description: str = ""
    unit: str = Field(description="unit of analysis, e.g. lsoa11, lsoa21, ward17, neighbourhoods:NAME")
    areas: Literal["unit", "data"] = Field(
        "unit", description="'unit': every area of the unit (codes outside it are an error); "
                            "'data': the codes present in the component tables")
    missing: Missing = "error"
    component: list[Component] = Field(default_factory=list)
    domain: list[Domain] = Field(default_factory=list)
    aggregate: Aggregate = Field(default_factory=Aggregate)

    @field_validator("unit")
    @classmethod
    def _unit(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("unit is empty; e.g. unit = \"lsoa11\"")
        return v.strip()

    @model_validator(mode="after")
    def _structure(self) -> IndexSpec:
        if not self.component and not self.domain:
            raise ValueError("the spec has no [[component]] and no [[domain]]; add at least one")
        items = [*self.component, *self.domain, *(c for d in self.domain for c in d.component)]
        names = [c.name for c in items]
        dup = sorted({n for n in names if names.count(n) > 1})
        same = [n for n in dup if len({c.label or c.name for c in items if c.name == n}) == 1]
        if same:
            raise ValueError(f"duplicate component/domain name(s): {', '.join(same)}; every name must be unique")
        if dup:
            clashes = "; ".join(" and ".join(repr(c.label or c.name) for c in items if c.name == n)
                                + f" (each gives {n})" for n in dup)
            raise ValueError(f"component/domain names must give different column names: {clashes}. "
                             "Rename one of each pair")
        bad = sorted(set(names) & set(RESERVED_COLUMNS))
        if bad:
            raise ValueError(f"name(s) {', '.join(bad)} are reserved for output columns "
                             f"({', '.join(RESERVED_COLUMNS)})")
        _check_weights([c.weight for c in self.component] + [d.weight for d in self.domain], where="top level")
        return self

    @property
    def top(self) -> list[Component | Domain]:
        """The top-level items in order: components, then domains."""
        return [*self.component, *self.domain]

    def leaves(self) -> list[Component]:
        """Every component, top-level and nested, in order."""
        return [*self.component, *(c for d in self.domain for c in d.component)]


def _check_weights(weights: list[float], *, where: str) -> None:
    if weights and sum(weights) <= 0:
        raise ValueError(f"{where}: all weights are zero; give at least one a positive weight")


def _format_errors(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        value = e.get("input")
        shown = "" if isinstance(value, dict | list) or value is None else f" (got {value!r})"
        lines.append(f"  {loc}: {msg}{shown}")
    return f"invalid index spec {source}:\n" + "\n".join(lines)


def parse_spec(data: dict, *, source: str = "", base: Path | None = None) -> IndexSpec:
    """Validate a spec given as a dict (e.g. parsed TOML); errors name each bad key.

    ``base`` is the directory relative ``file =`` paths are resolved against.

    >>> s = parse_spec({"name": "x", "unit": "lsoa11", "component": [
    ...     {"name": "a", "table": "t", "column": "v", "need": "high", "weight": 2}]})
    >>> s.component[0].transform, s.aggregate.method
    ('rank', 'weighted_mean')
    >>> parse_spec({"name": "x", "unit": "lsoa11", "colour": "red"})
    Traceback (most recent call last):
    ...
    neighbourhood_lens.errors.DataError: invalid index spec :
      colour: unknown key (got 'red')
    """
    try:
        spec = IndexSpec.model_validate(data)
    except ValidationError as e:
        raise DataError(_format_errors(e, source)) from None
    if base is not None:
        def fix(c: Component) -> Component:
            if c.file is not None and not c.file.is_absolute():
                return c.model_copy(update={"file": base / c.file})
            return c

        spec = spec.model_copy(update={
            "component": [fix(c) for c in spec.component],
            "domain": [d.model_copy(update={"component": [fix(c) for c in d.component]}) for d in spec.domain],
        })
    return spec


def load_spec(path: str | Path) -> IndexSpec:
    """Read and validate a TOML spec file (relative ``file =`` paths are relative to the spec)."""
    p = Path(path)
    data = read_toml(p, what="index spec", hint="; pass a TOML file or --preset NAME")
    return parse_spec(data, source=str(p), base=p.parent)
