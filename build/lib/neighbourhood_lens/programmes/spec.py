"""A programme written down once: the TOML specification and its validation.

A programme is a TOML file with a ``unit``, a ``[need]`` rule, optional ``[eligibility]``
filters, an optional ``[budget]`` and a ``[select]`` method (see ``docs/programmes.md``,
whose schema table is generated from :class:`ProgrammeSpec`). :func:`load_spec` reads it with
:mod:`tomllib` into pydantic models that reject unknown keys; every error names the file,
the key, the value received and the values allowed, before any data are read.

>>> spec = parse_spec({"unit": "ward17", "need": {"indicators": ["imd2019"]},
...                    "select": {"method": "top", "count": 10}})
>>> spec.need.combine, spec.select.method, spec.budget is None
('rank_mean', 'top', True)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from neighbourhood_lens.geo.geography import LEVELS

from .._toml import read_toml
from ..errors import DataError

__all__ = [
    "INDICATORS",
    "COMBINES",
    "METHODS",
    "ALLOCATIONS",
    "PARENT_MEASURES",
    "Need",
    "Eligibility",
    "Budget",
    "Select",
    "ProgrammeSpec",
    "parse_spec",
    "load_spec",
]

#: Built-in need indicators (a stored composite index is written ``index:NAME``).
INDICATORS = ("imd2019", "imd2025", "cni2019", "cni2023")
COMBINES = ("all_top_share", "rank_mean", "weighted")
METHODS = ("top", "greedy", "optimal", "two_stage")
ALLOCATIONS = ("cost", "equal", "per_head", "need_weighted")
#: Official IoD summary measures a two-stage design can rank parents by (``nlens summarise``).
PARENT_MEASURES = ("average_score", "average_rank", "proportion_most_deprived_10pct", "extent",
                   "local_concentration", "scale")
#: Units a two-stage design can use as parents.
PARENT_LEVELS = ("msoa11", "ward17", "lad19", "region19", "ward24", "lad24", "region24")

_STRICT = ConfigDict(extra="forbid", frozen=True)


class Need(BaseModel):
    """How need is measured: indicators ranked among the units, then combined.

    ``all_top_share``: in the top ``share`` of units on every indicator (double disadvantage).
    ``rank_mean``: the mean of the rank ratios (rank / number ranked); lower = more need.
    ``weighted``: the ``weights``-weighted mean of the rank ratios. In every case
    need weight = 1 - combined rank ratio (higher = more need).
    """

    model_config = _STRICT
    indicators: list[str] = Field(min_length=1, description=(
        f"One or more of {', '.join(INDICATORS)}, or index:NAME for a composite index stored with "
        "`nlens index build --store NAME`."))
    combine: Literal["all_top_share", "rank_mean", "weighted"] = Field(
        "rank_mean", description="How the indicators' ranks are combined.")
    share: float | None = Field(None, gt=0, le=1, description="For all_top_share: the top share on every indicator.")
    weights: list[float] | None = Field(None, description="For weighted: one non-negative weight per indicator.")

    @field_validator("indicators")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in INDICATORS and not (name.startswith("index:") and len(name) > 6):
                raise ValueError(
                    f"unknown indicator {name!r}; allowed: {', '.join(INDICATORS)} or index:NAME (a stored index)")
        if len(set(value)) != len(value):
            raise ValueError(f"indicators repeat: {value}")
        return value

    @model_validator(mode="after")
    def _rule(self) -> Need:
        if self.combine == "all_top_share" and self.share is None:
            raise ValueError("combine = 'all_top_share' needs share (e.g. share = 0.10)")
        if self.combine != "all_top_share" and self.share is not None:
            raise ValueError(f"share is only used with combine = 'all_top_share' (combine is {self.combine!r})")
        if self.combine == "weighted":
            if self.weights is None or len(self.weights) != len(self.indicators):
                raise ValueError(f"combine = 'weighted' needs weights, one per indicator ({len(self.indicators)}); "
                                 f"got {self.weights}")
            if min(self.weights) < 0 or sum(self.weights) <= 0:
                raise ValueError(f"weights must be non-negative with a positive sum; got {self.weights}")
        elif self.weights is not None:
            raise ValueError(f"weights are only used with combine = 'weighted' (combine is {self.combine!r})")
        return self


class Eligibility(BaseModel):
    """Which areas may be chosen. Every filter is optional; each removal is counted."""

    model_config = _STRICT
    min_population: float | None = Field(None, ge=0, description="Smallest population an area may have.")
    max_population: float | None = Field(None, gt=0, description="Largest population an area may have.")
    rural_urban: list[str] | None = Field(None, description=(
        "Rural-urban classes allowed (ONS RUC of the LSOAs holding most of the area's people), "
        "broad (e.g. 'Urban', 'Rural') or detailed class names, case-insensitive."))
    regions: list[str] | None = Field(None, description="Only these regions (codes or names).")
    exclude_regions: list[str] | None = Field(None, description="Not these regions (codes or names).")
    lads: list[str] | None = Field(None, description="Only these local authorities (codes or names).")
    exclude_lads: list[str] | None = Field(None, description="Not these local authorities (codes or names).")
    exclude: str | None = Field(None, description=(
        "CSV of places already funded (a 'code' column, or the first column): codes of any vintage the "
        "lookups convert (LSOA 2011/2021, MSOA, ward, LAD, or the unit's own codes). An area overlapping any "
        "of them is excluded; unknown codes are reported. A relative path is relative to the spec file."))
    min_need_weight: float | None = Field(None, ge=0, le=1, description="Smallest need weight (1 - rank ratio).")

    @model_validator(mode="after")
    def _range(self) -> Eligibility:
        if self.min_population is not None and self.max_population is not None \
                and self.min_population > self.max_population:
            raise ValueError(f"min_population {self.min_population} exceeds max_population {self.max_population}")
        return self


class Budget(BaseModel):
    """The money: cost of an area = per_area_fixed + per_head x population; amounts follow the
    cost unless ``allocation`` says otherwise (then the whole total is shared among the chosen
    areas equally, per head, or by population x need weight, within ``floor`` and ``ceiling``)."""

    model_config = _STRICT
    total: float = Field(gt=0, description="The budget in GBP.")
    per_area_fixed: float = Field(0.0, ge=0, description="Fixed cost of each chosen area (GBP).")
    per_head: float = Field(0.0, ge=0, description="Cost per resident of each chosen area (GBP).")
    allocation: Literal["cost", "equal", "per_head", "need_weighted"] = Field(
        "cost", description="How the amount of each chosen area is set.")
    floor: float | None = Field(None, ge=0, description="Smallest amount per area (not with allocation = 'cost').")
    ceiling: float | None = Field(None, gt=0, description="Largest amount per area (not with allocation = 'cost').")

    @model_validator(mode="after")
    def _bounds(self) -> Budget:
        if self.allocation == "cost" and (self.floor is not None or self.ceiling is not None):
            raise ValueError("floor and ceiling apply to allocation = 'equal', 'per_head' or 'need_weighted', "
                             "not to 'cost'")
        if self.floor is not None and self.ceiling is not None and self.floor > self.ceiling:
            raise ValueError(f"floor {self.floor} exceeds ceiling {self.ceiling}")
        return self


class Select(BaseModel):
    """How areas are chosen among the eligible ones (see :mod:`.select` and :mod:`.optimise`)."""

    model_config = _STRICT
    method: Literal["top", "greedy", "optimal", "two_stage"] = Field(description="Selection method.")
    count: int | None = Field(None, ge=1, description="At most this many areas.")
    per_region: int | None = Field(None, ge=1, description="At most this many areas per region.")
    per_lad: int | None = Field(None, ge=1, description="At most this many areas per local authority.")
    parent: str | None = Field(None, description=f"two_stage: parent level, one of {', '.join(PARENT_LEVELS)}.")
    parents_top: int | None = Field(None, ge=1, description="two_stage: how many parents to choose.")
    parent_measure: Literal["average_score", "average_rank", "proportion_most_deprived_10pct", "extent",
                            "local_concentration", "scale"] = Field(
        "average_score", description="two_stage: IoD summary measure ranking the parents (rank 1 = most deprived).")
    parent_index: Literal["imd2019", "imd2025"] | None = Field(
        None, description="two_stage: the IMD edition of the summary (default: imd2019 for 2011-based parents, "
                          "imd2025 for 2021-based).")
    per_parent: int | None = Field(None, ge=1, description="two_stage: most-need units chosen in each parent.")
    time_limit: float = Field(300.0, gt=0, description="optimal: solver time limit in seconds.")
    mip_rel_gap: float = Field(0.0, ge=0, lt=1, description="optimal: relative gap at which the solver may stop.")

    @model_validator(mode="after")
    def _two_stage(self) -> Select:
        keys = {"parent": self.parent, "parents_top": self.parents_top, "per_parent": self.per_parent}
        if self.method == "two_stage":
            missing = [k for k, v in keys.items() if v is None]
            if missing:
                raise ValueError(f"method = 'two_stage' needs {', '.join(missing)}")
            if self.parent not in PARENT_LEVELS:
                raise ValueError(f"unknown parent {self.parent!r}; allowed: {', '.join(PARENT_LEVELS)}")
        else:
            given = [k for k, v in keys.items() if v is not None]
            if given:
                raise ValueError(f"{', '.join(given)} only apply to method = 'two_stage' (method is {self.method!r})")
        return self


class ProgrammeSpec(BaseModel):
    """A programme design: unit, need, eligibility, budget and selection rules."""

    model_config = _STRICT
    name: str = Field("Programme", description="A name for reports.")
    description: str = Field("", description="Free text for reports.")
    unit: str = Field(description=(
        f"The areas to choose among: {', '.join(LEVELS)}, or neighbourhoods:NAME (a stored neighbourhood set)."))
    need: Need
    eligibility: Eligibility = Field(default_factory=Eligibility)
    budget: Budget | None = None
    select: Select

    @field_validator("unit")
    @classmethod
    def _unit(cls, value: str) -> str:
        if value in LEVELS:
            return value
        if value.startswith("neighbourhoods:") and len(value) > len("neighbourhoods:"):
            return value
        raise ValueError(f"unknown unit {value!r}; allowed: {', '.join(LEVELS)} or neighbourhoods:NAME")

    @model_validator(mode="after")
    def _coherent(self) -> ProgrammeSpec:
        if self.select.method in ("greedy", "optimal") and self.budget is None:
            raise ValueError(f"method = {self.select.method!r} needs a [budget] section (total, per_area_fixed, "
                             "per_head)")
        return self


def _describe(err: dict[str, Any], source: str) -> str:
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{source}: unknown key {loc!r} (value {err['input']!r})"
    if kind == "missing":
        return f"{source}: missing required key {loc!r}"
    msg = err["msg"].removeprefix("Value error, ")
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return f"{source}: key {loc!r} has value {err['input']!r}; allowed: {expected}"
    value = err.get("input")
    shown = "" if isinstance(value, dict) else f" (value {value!r})"
    return f"{source}: key {loc!r}{shown}: {msg}"


def _allowed_keys(loc: tuple[Any, ...]) -> str:
    model: Any = ProgrammeSpec
    for part in loc[:-1]:
        field = model.model_fields.get(part)
        if field is None:
            return ""
        ann = field.annotation
        model = next((a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type) and issubclass(a, BaseModel)),
                     None)
        if model is None:
            return ""
    return ", ".join(model.model_fields)


def parse_spec(data: dict[str, Any], *, source: str = "<spec>") -> ProgrammeSpec:
    """Validate a programme read from TOML (a dict); errors name ``source``, the key and what is allowed."""
    try:
        return ProgrammeSpec.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            line = _describe(err, source)
            if err["type"] == "extra_forbidden":
                line += f"; allowed keys here: {_allowed_keys(tuple(err['loc']))}"
            lines.append(line)
        raise DataError("invalid programme spec:\n  " + "\n  ".join(lines)) from None


def load_spec(path: str | Path) -> ProgrammeSpec:
    """Read and validate a programme TOML file (see :func:`parse_spec`).

    A relative ``eligibility.exclude`` path is resolved against the spec file's folder.
    """
    path = Path(path)
    data = read_toml(path, what="programme spec")
    spec = parse_spec(data, source=str(path))
    excl = spec.eligibility.exclude
    if excl is not None and not Path(excl).is_absolute():
        elig = spec.eligibility.model_copy(update={"exclude": str(path.parent / excl)})
        spec = spec.model_copy(update={"eligibility": elig})
    return spec
