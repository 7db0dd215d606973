"""``nlens index build`` and ``nlens index sensitivity``: composite indices and their rank uncertainty."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ._common import DbOption, FormatOption, OutputFormat, check_suffix, console, emit, handle_errors, note, wrote

app = typer.Typer(help="Composite indices: rebuild the IMD/CNI, build your own, test rank stability.",
                  no_args_is_help=True)

SpecArg = Annotated[Path | None, typer.Argument(help="Index spec (TOML); see docs/indices.md.", show_default=False)]
PresetOpt = Annotated[str | None, typer.Option(help="A preset instead of a spec: imd2019, imd2025, cni2019, cni2023.")]


def _spec(spec: Path | None, preset: str | None):  # noqa: ANN202
    from ..errors import DataError
    from ..indices import load_spec
    from ..indices import preset as get_preset

    if (spec is None) == (preset is None):
        raise DataError("give either a spec file (SPEC.toml) or --preset NAME (imd2019, imd2025, cni2019, cni2023)")
    return load_spec(spec) if spec is not None else get_preset(preset)


def _notes(notes: list[str]) -> None:
    for text in notes:
        note(text)


@app.command()
@handle_errors
def build(
    spec: SpecArg = None,
    preset: PresetOpt = None,
    out: Annotated[Path | None, typer.Option(help="Write the scores: .csv, .parquet, .xlsx, or - (stdout).")] = None,
    store: Annotated[str | None, typer.Option(
        help="Also keep the index in the warehouse as NAME (for programme 'index:NAME', summarise --index "
             "NAME and the web map).")] = None,
    compare: Annotated[str | None, typer.Option(
        help="Compare with a published composite (imd2019, imd2025, cni2019, cni2023): decile-1 overlap.")] = None,
    top: Annotated[int, typer.Option(help="Rows to show on screen (0 = all).")] = 10,
    fmt: FormatOption = OutputFormat.auto,
    db: DbOption = None,
) -> None:
    """Build a composite index: code, score, rank, decile (1 = most need) and each component's value."""
    from neighbourhood_lens import indices as ix
    from neighbourhood_lens.outputs.tables import provenance_record, write_table

    from ..store import result_table, save_result
    from ..warehouse import connect

    check_suffix(out, (".csv", ".parquet"))
    s = _spec(spec, preset)
    if store is not None:
        result_table("index", store)  # check the name before any work
    con = connect(db, read_only=store is None)
    frame = ix.build_index(con, s)
    _notes(frame.attrs["notes"])
    console.print(f"[bold]{escape(s.name)}[/]: {len(frame):,} areas of unit {s.unit} "
                  f"({s.aggregate.method} of {len(s.top)} item(s)).")
    if preset is not None:
        cmp = ix.compare_with_published(frame, ix.published(con, preset))
        console.print(f"Against the published {preset}: max |score difference| {cmp['max_abs_diff']:.6f}, "
                      f"ranks identical for {cmp['share_rank_identical']:.4%} of {cmp['n']:,} areas "
                      f"(within 1: {cmp['share_rank_within_1']:.4%}; deciles identical: "
                      f"{cmp['share_decile_identical']:.4%}).")
    if compare is not None:
        ov = ix.top_decile_overlap(frame, ix.published(con, compare))
        console.print(f"Decile 1 against the published {compare} decile 1: {ov['overlap']:,} of {ov['n_top']:,} "
                      f"areas in both ({ov['share']:.1%}); Spearman rank correlation {ov['spearman']:.4f} "
                      f"over {ov['n']:,} areas.")
    emit(frame, title="Most need (rank 1 = most need)", limit=top, out=out, hint="--out FILE or --top 0",
         formats={c: ".3f" for c in frame.columns if c not in ("code", "rank", "decile")})
    params = {"spec": str(spec) if spec else None, "preset": preset, "definition": frame.attrs["spec"]}
    if out is not None:
        prov = provenance_record(con, frame.attrs["sources"], command="index build", parameters=params)
        write_table(frame, out, provenance=prov)
        wrote(len(frame), out)
    if store is not None:
        table = save_result(con, frame, kind="index", name=store, unit=s.unit, value_column="score",
                            description=s.name, parameters=params, sources=frame.attrs["sources"])
        console.print(f"Stored as {table} (use index:{store} with nlens programme, or --index {store}).")


@app.command()
@handle_errors
def sensitivity(
    spec: SpecArg = None,
    preset: PresetOpt = None,
    draws: Annotated[int, typer.Option(min=1, help="Monte Carlo draws (at least 1).")] = 1000,
    weight_jitter: Annotated[float, typer.Option(help="J: each weight x Uniform(1-J, 1+J), rescaled.")] = 0.2,
    seed: Annotated[int, typer.Option(help="Random seed (reproducible draws).")] = 1,
    transforms: Annotated[str | None, typer.Option(
        help="Also vary the transform: comma-separated, e.g. exponential,rank,zscore.")] = None,
    aggregations: Annotated[str | None, typer.Option(
        help="Also vary the aggregation: comma-separated, e.g. weighted_sum, geometric_mean.")] = None,
    sobol: Annotated[int, typer.Option(
        help="Sobol indices with this Saltelli base sample (power of 2, e.g. 256; 0 = skip).")] = 0,
    sobol_out: Annotated[Path | None, typer.Option(help="Write the Sobol indices: .csv or .parquet.")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Write per-area uncertainty: .csv, .parquet, .xlsx, or - (stdout).")] = None,
    chart: Annotated[Path | None, typer.Option(help="Rank-uncertainty chart: .png or .svg.")] = None,
    fmt: FormatOption = OutputFormat.auto,
    db: DbOption = None,
) -> None:
    """Rank uncertainty under weight jitter: rank median, 5-95% range, and P(top decile) per area."""
    from neighbourhood_lens import indices as ix
    from neighbourhood_lens.outputs.tables import provenance_record, write_sidecar, write_table

    from ..indices.sensitivity import sensitivity as run
    from ..indices.sensitivity import sensitivity_chart, sobol_indices
    from ..warehouse import connect
    from ._common import progress_bar

    check_suffix(out, (".csv", ".parquet"))
    check_suffix(sobol_out, (".csv", ".parquet"), option="--sobol-out")
    check_suffix(chart, (".png", ".svg"), option="--chart")
    s = _spec(spec, preset)
    tl = [t.strip() for t in transforms.split(",")] if transforms else None
    al = [a.strip() for a in aggregations.split(",")] if aggregations else None
    con = connect(db)
    plan = ix.prepare(con, s)
    _notes(plan.notes)
    with progress_bar("Monte Carlo draws") as update:
        done = [0]

        def step(n: int) -> None:
            done[0] += n
            update(f"{plan.n:,} areas", done[0] + 1, draws)

        frame = run(plan, draws=draws, weight_jitter=weight_jitter, seed=seed, transforms=tl, aggregations=al,
                    progress=step)
    a = frame.attrs
    console.print(
        f"[bold]{s.name}[/]: {draws:,} draws, weights x U({1 - weight_jitter:g}, {1 + weight_jitter:g}), seed {seed}, "
        f"{plan.n:,} areas in {a['seconds']:.1f} s. Top decile = {a['n_top']:,} areas; "
        f"[bold]{a['n_uncertain_top_decile']:,}[/] areas have an uncertain top-decile membership (0 < p < 1), "
        f"{int((frame['p_top_decile'] == 1).sum()):,} are in it in every draw."
    )
    edge = frame[(frame["p_top_decile"] > 0) & (frame["p_top_decile"] < 1)]
    emit(edge, title="Least certain at the top (by baseline rank)", limit=10, out=out,
         formats={"score": ".3f", "rank_median": ",.1f", "rank_p05": ",.1f", "rank_p95": ",.1f",
                  "p_top_decile": ".3f"})
    params = {"spec": str(spec) if spec else None, "preset": preset, "draws": draws, "weight_jitter": weight_jitter,
              "seed": seed, "transforms": tl, "aggregations": al}
    prov = provenance_record(con, a["sources"], command="index sensitivity", parameters=params)
    if out is not None:
        write_table(frame, out, provenance=prov)
        wrote(len(frame), out)
    if chart is not None:
        sensitivity_chart(frame, str(chart), title=f"{s.name}: ranks over {draws:,} draws (±{weight_jitter:.0%})")
        write_sidecar(chart, prov)
        console.print(f"Drew {chart}", highlight=False)
    if sobol:
        with progress_bar("Sobol runs") as update:
            done = [0]

            def sstep(n: int) -> None:
                done[0] += n
                update("runs", done[0] + 1, done[0] + 1)

            si = sobol_indices(plan, base=sobol, weight_jitter=weight_jitter, seed=seed, transforms=tl,
                               aggregations=al, progress=sstep)
        emit(si, title=f"Sobol indices of the {si.attrs['output']} ({si.attrs['runs']:,} runs)",
             formats={c: ".4f" for c in ("S1", "S1_conf", "ST", "ST_conf")})
        if sobol_out is not None:
            write_table(si, sobol_out, key="input",
                        provenance=provenance_record(con, a["sources"], command="index sensitivity --sobol",
                                                     parameters={**params, "sobol_base": sobol}))
            wrote(len(si), sobol_out)


@handle_errors
def left_behind_sensitivity(
    *, draws: int, weight_jitter: float, seed: int, cni: str, imd_share: float, cni_share: float,
    out: Path | None, db: str | None, vintage: int = 2019, neighbourhoods: str | None = None,
    fmt: OutputFormat = OutputFormat.auto,
) -> None:
    """``nlens left-behind --sensitivity``: how stable the 2019 list of left-behind wards is."""
    from ..errors import DataError
    from ..indices.stability import left_behind_stability

    if vintage != 2019 or neighbourhoods is not None:
        raise DataError("--sensitivity is implemented for the 2019 ward list only (--vintage 2019, no "
                        "--neighbourhoods); for other indices use `nlens index sensitivity`")
    from neighbourhood_lens.outputs.tables import provenance_record, write_table

    from ..warehouse import connect
    from ._common import progress_bar

    check_suffix(out, (".csv", ".parquet"))
    con = connect(db)
    with progress_bar("Monte Carlo draws") as update:
        done = [0]

        def step(n: int) -> None:
            done[0] += n
            update("wards", done[0] + 1, draws)

        frame = left_behind_stability(con, draws=draws, weight_jitter=weight_jitter, seed=seed, cni=cni,
                                      imd_share=imd_share, cni_share=cni_share, progress=step)
    a = frame.attrs
    same = "identical to" if a["baseline_matches_official"] else "differs from"
    how = ("CNI rebuilt from its three domains with jittered weights" if cni == "jitter"
           else "CNI at its published rank")
    console.print(
        f"Left-behind wards (2019 rule) over {draws:,} draws, domain weights x U({1 - weight_jitter:g}, "
        f"{1 + weight_jitter:g}), IMD rebuilt per LSOA -> ward; {how}; {a['seconds']:.1f} s.\n"
        f"Baseline: [bold]{a['n_baseline']}[/] wards ({same} the official {a['n_official']}). "
        f"Left behind in every draw: [bold]{a['n_always']}[/]; "
        f"uncertain (0 < p < 1): [bold]{a['n_baseline_uncertain']}[/]; other wards that enter the list in some "
        f"draws: [bold]{a['n_enter']}[/] ({a['n_ever']} wards in all)."
    )
    show = frame[(frame["p_left_behind"] > 0) & (frame["p_left_behind"] < 1)]
    show = show.iloc[(show["p_left_behind"] - 0.5).abs().argsort(kind="stable")]
    emit(show, title="Least stable wards (p nearest 0.5)", limit=15, out=out,
         formats={"p_left_behind": ".3f", "p_imd_top": ".3f", "p_cni_top": ".3f"})
    if out is not None:
        prov = provenance_record(con, a["sources"], command="left-behind --sensitivity",
                                 parameters={"draws": draws, "weight_jitter": weight_jitter, "seed": seed,
                                             "cni": cni, "imd_share": imd_share, "cni_share": cni_share})
        write_table(frame, out, provenance=prov)
        wrote(len(frame), out)
