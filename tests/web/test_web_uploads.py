"""Hostile uploads: refused before parsing, off the event loop, with a bounded queue and a time limit."""

from __future__ import annotations

import asyncio
import io
import threading

import pytest
from web_demo import shared_app, shared_server

from neighbourhood_lens.errors import DataError, SchemaError
from neighbourhood_lens.funding.grants import MAX_COLUMNS, csv_header, json_depth, read_grants


def _xlsx(cells: dict[str, object]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    for ref, value in cells.items():
        book.active[ref] = value
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


HEADER = {"A1": "Identifier", "B1": "Amount Awarded", "C1": "Award Date",
          "D1": "Beneficiary Location:0:Geographic Code", "A2": "g-1", "B2": 100, "C2": "2021-04-01", "D2": "E01000001"}


# --- tier (a): the readers on tiny hand-made files -------------------------------------------------


def test_a_million_empty_header_columns_are_refused_before_parsing():
    with pytest.raises(SchemaError, match="the header row has 1,000,000 columns; at most 1,000"):
        read_grants(b"," * 999_999 + b"\n1\n", filename="wide.csv")
    assert len(csv_header(b"," * (MAX_COLUMNS - 1) + b"\n", "ok.csv")) == 0  # at the cap: read, all blank


def test_repeated_titles_are_found_in_linear_time_and_named():
    header = ",".join(f"c{i}" for i in range(900)) + ",c5,c7\n"
    with pytest.raises(SchemaError, match="repeated column\\(s\\) in the header: c5, c7"):
        csv_header(header.encode(), "g.csv")


def test_blank_trailing_header_columns_are_ignored():
    data = b"Identifier,Amount Awarded,Award Date,Beneficiary Location:0:Geographic Code,,,\n" \
           b"g-1,100,2021-04-01,E01000001,,,\ng-2,250,2021-05-01,E01000002,,,\n"
    got = read_grants(data, filename="excel.csv")
    assert len(got.grants) == 2 and got.grants["amount_gbp"].tolist() == [100.0, 250.0]
    with pytest.raises(SchemaError, match="column\\(s\\) 2 of the header have no title"):
        read_grants(b"Identifier,,Amount Awarded\n1,2,3\n", filename="gap.csv")


def test_xlsx_with_a_cell_in_column_xfd_is_refused_by_its_declared_dimension():
    with pytest.raises(SchemaError, match="declares 3,000 rows x 16,384 columns"):
        read_grants(_xlsx({**HEADER, "XFD3000": "x"}), filename="xfd.xlsx")


def test_xlsx_rows_are_read_only_as_wide_as_the_header():
    got = read_grants(_xlsx({**HEADER, "F1": None, "H2": "stray note"}), filename="ok.xlsx")
    assert len(got.grants) == 1 and got.grants["geo_code"].iloc[0] == "E01000001"


def _depth(doc) -> int:
    if isinstance(doc, dict | list):
        return 1 + max([_depth(v) for v in (doc.values() if isinstance(doc, dict) else doc)], default=0)
    return 0


@pytest.mark.parametrize("text", [
    r'["\\", "[[["]',              # an escaped backslash ends before the closing quote
    r'{"a": "\\\"["}',            # backslash, then an escaped quote: the string goes on
    r'["\\\\", "]]]", [[]]]',    # two escaped backslashes, then closing brackets inside a string
    r'[["\\"], "x{"]',
    r'["a\"[[[", 1]',
])
def test_json_depth_counts_brackets_outside_strings_only(text):
    import json

    assert json_depth(text.encode()) == _depth(json.loads(text))


def test_an_xlsx_zip_bomb_is_refused_before_its_sheet_is_read():
    import zipfile

    book = io.BytesIO(_xlsx(HEADER))
    out = io.BytesIO()
    with zipfile.ZipFile(book) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<sheetData>", b"<sheetData>" + b" " * 80_000_000)
            dst.writestr(item, data)
    assert len(out.getvalue()) < 1_000_000
    with pytest.raises(DataError, match=r"bomb.xlsx: the archive unpacks to 80,0\d\d,\d\d\d bytes"):
        read_grants(out.getvalue(), filename="bomb.xlsx")


def test_deeply_nested_json_is_refused_not_a_crash():
    assert json_depth(b'{"grants": [{"beneficiaryLocation": [{"geoCode": "[[[["}]}]}') == 5
    with pytest.raises(DataError, match="JSON nested 100,001 levels deep; a 360Giving package needs at most 32"):
        read_grants(b'{"grants": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", filename="deep.json")


def test_messages_name_the_users_file_not_a_temporary_one(con):
    from neighbourhood_lens.web._funding import FundingUpload, handle_upload

    result = handle_upload(con, FundingUpload(name="My Grants 2024.xlsx", data=_xlsx({**HEADER, "XFD3000": "x"})))
    assert not result.ok and result.errors[0].startswith("My Grants 2024.xlsx: the sheet")
    assert "grants.xlsx" not in result.errors[0] and "nlens-upload" not in result.errors[0]


# --- the worker pool -------------------------------------------------------------------------------


def test_pool_refuses_when_full_and_stops_a_job_past_its_time_limit(warehouse_path):
    from neighbourhood_lens.web._funding import FundingUpload
    from neighbourhood_lens.web._jobs import JobTimeoutError, PoolBusyError, UploadPool

    pool = UploadPool(warehouse_path, workers=1, queue=0, timeout=0.001)
    bad = FundingUpload(name="g.csv", data=b"id,amount\n1,2\n")

    async def scenario():
        first = asyncio.ensure_future(pool.run(bad, "imd2025"))
        await asyncio.sleep(0)  # the first job holds the only place
        with pytest.raises(PoolBusyError, match="retry in 10 seconds"):
            await pool.run(bad, "imd2025")
        with pytest.raises(JobTimeoutError, match="took longer than 0 s"):
            await first  # a worker cannot even start within 1 ms: stopped
        pool.timeout = 300.0
        return await pool.run(bad, "imd2025")  # a fresh worker replaces the stopped one

    try:
        result = asyncio.run(scenario())
    finally:
        pool.close()
    assert result.ok is False and "Amount Awarded" in result.errors[0]


# --- through a real server: the event loop stays free ----------------------------------------------


@pytest.fixture(scope="module")
def server(warehouse_path, tmp_path_factory):
    app = shared_app(warehouse_path, tmp_path_factory.mktemp("web"))
    queue, app.state.pool.queue = app.state.pool.queue, 2  # 2 workers + 2 waiting
    yield shared_server(app)
    app.state.pool.queue = queue


def test_hostile_uploads_get_clear_errors_over_http(server):
    import httpx

    cases = {
        "wide.csv": (b"," * 999_999 + b"\n1\n", "1,000,000 columns"),
        "xfd.xlsx": (_xlsx({**HEADER, "XFD3000": "x"}), "16,384 columns"),
        "deep.json": (b'{"grants": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "nested 50,001 levels"),
    }
    for name, (data, words) in cases.items():
        r = httpx.post(server + "/api/funding/upload", files={"file": (name, data)}, timeout=300)
        assert r.status_code == 400 and r.json()["ok"] is False, name
        assert words in r.json()["errors"][0] and r.json()["errors"][0].startswith(name)
    assert httpx.get(server + "/api/health", timeout=60).status_code == 200


def test_server_answers_while_uploads_are_processed_and_refuses_when_full(server, con):
    import httpx

    from neighbourhood_lens.funding.reach import synthetic_grants

    data = synthetic_grants(con, 2000, seed=2).to_csv(index=False).encode()
    statuses: list[int] = []

    def upload(i: int) -> None:
        r = httpx.post(server + "/api/funding/upload", files={"file": (f"g{i}.csv", data)},
                       data={"index": "imd2019"}, timeout=600)
        statuses.append(r.status_code)
        if r.status_code == 503:
            assert r.headers["retry-after"] == "10" and "retry in" in r.json()["detail"]

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(6)]  # 2 workers + 2 waiting + 2 refused
    for t in threads:
        t.start()
    answered_during = 0
    with httpx.Client(base_url=server, timeout=120) as c:
        while any(t.is_alive() for t in threads) and answered_during < 20:
            assert c.get("/api/health").status_code == 200
            assert c.get("/api/areas/E05001645").json()["name"] == "Bloomfield"
            answered_during += 1 if sum(s == 200 for s in statuses) < 4 else 0
    for t in threads:
        t.join(600)
    assert sorted(statuses) == [200, 200, 200, 200, 503, 503]
    assert answered_during > 0  # the API answered while the accepted uploads were still being processed
