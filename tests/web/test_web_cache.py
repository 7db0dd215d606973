"""The web cache in the warehouse: written once, read back exactly, ignored when the data changed."""

from __future__ import annotations

import shutil

import pytest
from web_demo import shared_app


@pytest.fixture(scope="module")
def apps(warehouse_path, tmp_path_factory):
    """The shared app (layers built in memory) and a second app on a warehouse copy holding the web cache."""
    from fastapi.testclient import TestClient

    from neighbourhood_lens.warehouse import connect
    from neighbourhood_lens.web.app import create_app
    from neighbourhood_lens.web.cache import build_web_cache, web_cache_current

    tmp = tmp_path_factory.mktemp("webcache")
    first = shared_app(warehouse_path, tmp)
    assert first.state.geo.wait(900)
    copy = tmp / "cached.duckdb"
    shutil.copy(warehouse_path, copy)
    con = connect(copy, read_only=False)
    assert not web_cache_current(con)
    build_web_cache(con, store=first.state.store, layers=first.state.geo.prepared(), levels=("lad24", "ward17"))
    assert web_cache_current(con)
    con.close()
    second = create_app(copy, geometry_cache=False, warm=False)
    assert second.state.ready.wait(300)
    yield TestClient(first), TestClient(second), copy


def test_a_cached_server_is_ready_from_the_warehouse(apps):
    _, cached, _ = apps
    health = cached.get("/api/health").json()
    assert health["ready"] is True and health["web_cache"] == "warehouse" and health["geometry_ready"] is True


@pytest.mark.parametrize("url", ["/api/geo/lad24", "/api/geo/ward17", "/api/geo/lsoa21?bbox=-1.7,54.9,-1.5,55.0",
                                 "/api/labels", "/api/values/lad19?measure=imd2015:imd", "/api/areas/E02001734"])
def test_cached_answers_equal_the_ones_built_in_memory(apps, url):
    built, cached, _ = apps
    a, b = built.get(url), cached.get(url)
    assert a.status_code == b.status_code == 200 and a.content == b.content


def test_profile_charts_come_from_the_cached_trajectories(apps):
    built, cached, _ = apps
    for code in ("E08000021", "E05001089"):  # a LAD 2024 and a ward 2017: the two cached levels
        a, b = built.get(f"/area/{code}").text, cached.get(f"/area/{code}").text
        chart = b[b.index("<svg"):b.index("</svg>")]
        assert chart.count("<circle") >= 5 and chart == a[a.index("<svg"):a.index("</svg>")]


def test_a_cache_of_other_data_is_ignored(apps, tmp_path):
    from neighbourhood_lens.warehouse import connect
    from neighbourhood_lens.web.cache import load_web_cache, web_cache_current

    _, _, copy = apps
    stale = tmp_path / "stale.duckdb"
    shutil.copy(copy, stale)
    con = connect(stale, read_only=False)
    assert web_cache_current(con)
    con.execute("UPDATE provenance SET sha256 = 'changed' WHERE dataset_id = (SELECT min(dataset_id) FROM provenance)")
    assert not web_cache_current(con) and load_web_cache(con) is None
    con.close()
