"""A copy of the session warehouse with a small stored neighbourhood set and a stored index, for web tests."""

from __future__ import annotations

import shutil
from pathlib import Path

#: Blackpool, Burnley, Blackburn with Darwen, Preston, Pendle: the set's local authorities.
DEMO_LADS = ["E06000009", "E07000117", "E06000008", "E07000123", "E07000122"]


def demo_warehouse(source: Path, target: Path) -> Path:
    """Copy ``source`` to ``target`` and store set ``lancs_demo`` (2021) and index ``ward_need_demo`` (ward17)."""
    from neighbourhood_lens.deprivation.left_behind import left_behind_scores
    from neighbourhood_lens.neighbourhoods import build as nb
    from neighbourhood_lens.store import save_result
    from neighbourhood_lens.warehouse import connect

    shutil.copy(source, target)
    con = connect(target, read_only=False)
    try:
        assignment = nb.build_neighbourhoods(con, vintage=2021, lads=DEMO_LADS, seed=1)
        nb.store_neighbourhoods(con, "lancs_demo", assignment, vintage=2021)
        wards = left_behind_scores(con, vintage=2019)
        index = wards[["code", "imd_score", "imd_rank", "imd_decile"]].set_axis(
            ["code", "score", "rank", "decile"], axis=1)
        save_result(con, index, kind="index", name="ward_need_demo", unit="ward17", value_column="score",
                    description="ward IMD 2019 score (test index)")
        lads = con.execute("SELECT DISTINCT lad24_code AS code FROM hierarchy_lsoa21 ORDER BY 1").df()
        lads["amount"] = [1000.0 * (i % 7) for i in range(len(lads))]
        save_result(con, lads, kind="programme", name="demo_amounts", unit="lad24", value_column="amount")
        roles = con.execute("SELECT DISTINCT ward24_code AS code FROM hierarchy_lsoa21 WHERE lad24_code = 'E06000009' "
                            "ORDER BY 1").df()
        roles["role"] = ["treated" if i % 3 == 0 else "comparator" for i in range(len(roles))]
        roles["role_code"] = (roles["role"] == "treated").astype(int)
        save_result(con, roles, kind="evaluation", name="demo_roles", unit="ward24", value_column="role_code")
    finally:
        con.close()
    return target


_SHARED: dict[str, object] = {}


def shared_app(warehouse_path: Path, tmp_dir: Path):
    """One app on the demo warehouse for every web test module of the session (geometry is built once)."""
    if "app" not in _SHARED:
        from neighbourhood_lens.web.app import create_app

        app = create_app(demo_warehouse(warehouse_path, tmp_dir / "demo.duckdb"), geometry_cache=False, warm=False)
        app.state.geo.wait(900)
        _SHARED["app"] = app
    return _SHARED["app"]


def shared_server(app) -> str:
    """The shared app served by uvicorn on a free loopback port (once per session); its base URL."""
    if "url" not in _SHARED:
        import socket
        import threading
        import time

        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        threading.Thread(target=srv.run, daemon=True).start()
        deadline = time.monotonic() + 120
        while not srv.started and time.monotonic() < deadline:
            time.sleep(0.05)
        _SHARED["url"] = f"http://127.0.0.1:{port}"
    return str(_SHARED["url"])
