"""The profile API and page carry the Outcomes section."""

from __future__ import annotations

import pytest
from web_demo import shared_app


@pytest.fixture(scope="module")
def client(warehouse_path, tmp_path_factory):
    from fastapi.testclient import TestClient

    return TestClient(shared_app(warehouse_path, tmp_path_factory.mktemp("web")), raise_server_exceptions=False)


def test_area_json_has_the_outcomes_section(client):
    body = client.get("/api/areas/E05001645").json()
    section = body["outcomes"]
    ids = [i["id"] for i in section["items"]]
    assert ids == ["fuel_poverty", "insolvency", "child_low_income", "uc_households", "household_deprivation"]
    assert "decile 1" in section["comparison"]
    first = section["items"][0]
    assert {"value", "similar", "england", "year", "source"} <= set(first)
    assert first["similar"]["n_areas"] > 100


def test_area_page_shows_the_outcomes_table(client):
    page = client.get("/area/E08000021").text
    assert '<section id="outcomes"><h2>Outcomes</h2>' in page
    assert "Equally deprived places" in page and "DESNZ" in page
