"""360Giving fetch against a loopback API (pages with ``next`` links) and registry, then the reach audit."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from _loopback import Loopback, demo_grants
from typer.testing import CliRunner

from neighbourhood_lens.cli import app
from neighbourhood_lens.errors import DataError, SourceUnavailableError
from neighbourhood_lens.funding.fetch import COLUMNS, fetch_grants
from neighbourhood_lens.funding.grants import read_grants

FUNDER = "GB-CHC-9999999"


@pytest.fixture()
def server():
    with Loopback() as s:
        yield s


@pytest.fixture(scope="module")
def codes(con) -> list[str]:
    """Six real LSOA 2011 codes, one from each of IMD 2019 deciles 1, 1, 2, 5, 9, 10."""
    rows = con.execute("SELECT lsoa11_code, imd_decile FROM imd2019_lsoa11 ORDER BY lsoa11_code").df()
    return [rows.loc[rows["imd_decile"] == d, "lsoa11_code"].iloc[k] for d, k in ((1, 0), (1, 1), (2, 0), (5, 0),
                                                                                 (9, 0), (10, 0))]


def test_api_pages_are_followed_dates_filtered_and_reach_reads_the_file(server, codes, warehouse_path, tmp_path):
    api = server.threesixty_api(FUNDER, demo_grants(codes, FUNDER), page=2)
    out = tmp_path / "grants.csv"
    runner = CliRunner()
    result = runner.invoke(app, ["funding", "fetch", "--funder", FUNDER, "--api", api, "--from", "2021-03-01",
                                 "--to", "2021-06-30", "--out", str(out)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Read 6 grants from 3 request(s) (api); wrote 4" in result.output
    assert "left out 2 outside the dates" in result.output and "£14,000.00" in result.output
    pages = [h for h in server.hits if "grants_made" in h]
    assert pages[0].endswith("?limit=100&offset=0") and pages[1:] == [
        f"/api/v1/org/{FUNDER}/grants_made/?limit=2&offset=2", f"/api/v1/org/{FUNDER}/grants_made/?limit=2&offset=4"]
    frame = pd.read_csv(out, dtype=str)
    assert list(frame.columns) == COLUMNS
    assert frame["Beneficiary Location:0:Geographic Code"].tolist() == codes[1:5]
    prov = json.loads((tmp_path / "grants.csv.provenance.json").read_text())
    assert prov["grants_read"] == 6 and prov["left_out_outside_dates"] == 2

    checked = read_grants(out)
    assert len(checked.grants) == 4 and checked.rejected.empty and checked.form == "360giving"
    reach = runner.invoke(app, ["funding", "reach", str(out), "--db", str(warehouse_path)], env={"COLUMNS": "200"})
    assert reach.exit_code == 0, reach.output
    assert "Rows in 4 = located 4 (£14,000.00) + unlocated 0" in reach.output


def test_registry_files_are_read_and_other_funders_left_out(server, codes):
    mine = demo_grants(codes[:2], FUNDER)
    server.file("/files/funder.json", json.dumps({"grants": mine}).encode(), content_type="application/json")
    shared = pd.DataFrame({c: ["", ""] for c in COLUMNS})
    shared["Identifier"] = ["360G-DEMO-csv-1", "360G-OTHER-1"]
    shared["Amount Awarded"] = ["500", "700"]
    shared["Award Date"] = ["2022-01-01", "2022-01-01"]
    shared["Funding Org:0:Identifier"] = [FUNDER, "GB-COH-1"]
    shared["Beneficiary Location:0:Geographic Code"] = codes[2:4]
    server.file("/files/shared.csv", shared.to_csv(index=False).encode(), content_type="text/csv")
    registry = server.threesixty_registry([
        {"title": "Demo funder grants", "publisher": {"name": "Demo Funder", "org_id": FUNDER},
         "distribution": [{"downloadURL": server.url + "/files/funder.json"}]},
        {"title": "Shared file", "publisher": {"name": "Network", "org_id": "GB-COH-1"},
         "datagetter_aggregates": {"distinct_funding_org_identifier": [FUNDER, "GB-COH-1"]},
         "distribution": [{"downloadURL": server.url + "/files/shared.csv"}]},
        {"title": "Someone else", "publisher": {"org_id": "GB-CHC-1"},
         "distribution": [{"downloadURL": server.url + "/files/never.csv"}]},
    ])
    got = fetch_grants(FUNDER, route="registry", registry=registry)
    assert got.read == 4 and got.other_funders == 1 and len(got.grants) == 3
    assert got.grants["Identifier"].tolist() == ["360G-DEMO-0001", "360G-DEMO-0002", "360G-DEMO-csv-1"]
    assert "/files/never.csv" not in server.hits


def test_unknown_funder_bad_dates_and_broken_paging_are_errors(server):
    with pytest.raises(SourceUnavailableError, match="HTTP 404"):
        fetch_grants("GB-CHC-0000000", api=server.url + "/api/v1")
    with pytest.raises(DataError, match="--from '2021-13-01' is not a date"):
        fetch_grants(FUNDER, api=server.url + "/api/v1", date_from="2021-13-01")
    path = f"/api/v1/org/{FUNDER}/grants_made/"
    server.routes[path] = (200, json.dumps({"count": 5, "next": None, "results": []}).encode(), {})
    with pytest.raises(DataError, match="read 0 grants but the API reports 5"):
        fetch_grants(FUNDER, api=server.url + "/api/v1")


def test_registry_workbooks_are_read_and_a_zip_that_is_no_workbook_is_a_clear_error(server, codes):
    import io
    import zipfile

    book = pd.DataFrame({c: [""] for c in COLUMNS})
    book["Identifier"], book["Amount Awarded"], book["Award Date"] = ["360G-DEMO-xlsx-1"], ["900"], ["2022-02-01"]
    book["Funding Org:0:Identifier"], book["Beneficiary Location:0:Geographic Code"] = [FUNDER], codes[:1]
    raw = io.BytesIO()
    book.to_excel(raw, index=False)
    server.file("/files/funder.xlsx", raw.getvalue(), content_type="application/octet-stream")
    ods = io.BytesIO()  # an OpenDocument spreadsheet's zip (mimetype and content.xml), served as a spreadsheet
    with zipfile.ZipFile(ods, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", "<office:document-content/>")
    server.file("/files/funder.ods", ods.getvalue(), content_type="application/vnd.oasis.opendocument.spreadsheet")

    def registry(url: str) -> str:
        return server.threesixty_registry([{"title": "Grants", "publisher": {"name": "Demo", "org_id": FUNDER},
                                            "distribution": [{"downloadURL": server.url + url}]}])

    got = fetch_grants(FUNDER, route="registry", registry=registry("/files/funder.xlsx"))
    assert got.grants["Identifier"].tolist() == ["360G-DEMO-xlsx-1"]
    assert got.grants["Amount Awarded"].tolist() == ["900"]
    with pytest.raises(DataError, match=r"funder\.ods: not an Excel workbook \(\.xlsx\) that can be read"):
        fetch_grants(FUNDER, route="registry", registry=registry("/files/funder.ods"))
