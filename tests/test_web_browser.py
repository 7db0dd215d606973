"""The web app in Debian's headless Chromium, driven by Playwright; screenshots go to test-artifacts/."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def server(warehouse_path):
    import uvicorn

    from neighbourhood_lens.web.app import create_app

    app = create_app(warehouse_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    app.state.geo.wait(120)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def page(server):
    if not CHROMIUM.exists():
        pytest.fail(f"Debian chromium is missing at {CHROMIUM}: install it with `apt-get install chromium`")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
        yield context.new_page()
        browser.close()


def test_map_draws_within_3_seconds(page, server):
    start = time.perf_counter()
    page.goto(server + "/")
    page.wait_for_selector("#map[data-features]", timeout=3000)
    elapsed = time.perf_counter() - start
    assert page.get_attribute("#map", "data-level") == "lad24"
    assert int(page.get_attribute("#map", "data-features")) == 296
    assert page.locator("#legend i").count() == 10
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "map.png"))
    assert elapsed < 3.0, f"first features drawn after {elapsed:.2f} s"
    page.check('input[value="lb"]')
    assert "Left-behind" in page.inner_text("#legend")


def test_search_a_ward_and_open_its_profile(page, server):
    page.goto(server + "/left-behind")
    page.fill("#search", "Bloomfield")
    page.wait_for_selector("#search-results li a")
    with page.expect_navigation():
        page.click("#search-results li a:has-text('E05001645')")
    assert "/area/E05001645" in page.url
    assert "Bloomfield" in page.inner_text("h1")
    assert page.locator("#neighbours tbody tr").count() >= 2
    page.screenshot(path=str(ARTIFACTS / "profile.png"), full_page=True)


def test_left_behind_list_filters_and_downloads(page, server):
    page.goto(server + "/left-behind?vintage=2019")
    assert page.locator("#lb-table tbody tr").count() == 225
    page.screenshot(path=str(ARTIFACTS / "left_behind.png"))
    page.select_option("select[name=region]", label="North East")
    page.click("button[type=submit]")
    rows = page.locator("#lb-table tbody tr").count()
    assert 0 < rows < 225
    with page.expect_download() as info:
        page.click("#csv-download")
    path = info.value.path()
    assert len(Path(path).read_text().strip().splitlines()) == rows + 1


def test_upload_shows_validation_messages(page, server, tmp_path):
    bad = tmp_path / "grants.csv"
    bad.write_text("id,amount\n1,100\n")
    page.goto(server + "/funding")
    page.set_input_files("input[type=file]", str(bad))
    page.click("#upload-form button")
    page.wait_for_selector("#upload-errors")
    assert "Amount Awarded" in page.inner_text("#upload-errors")
    page.screenshot(path=str(ARTIFACTS / "funding_error.png"))


def test_upload_a_sample_file_shows_the_reach_dashboard(page, server, tmp_path, con):
    from neighbourhood_lens.funding import synthetic_grants, write_grants

    sample = write_grants(synthetic_grants(con, 400, seed=3), tmp_path / "sample_grants.csv")
    page.goto(server + "/funding")
    page.set_input_files("input[type=file]", str(sample))
    page.select_option("select[name=index]", "imd2019")
    page.click("#upload-form button")
    page.wait_for_selector("#upload-summary", timeout=30000)
    text = page.inner_text("#upload-summary")
    assert text.startswith("400 grants in:") and "every row accounted for" in text
    frame = page.frame_locator("#reach-report")
    assert "SYNTHETIC" in frame.locator("body").inner_text()
    assert frame.locator("svg, img").count() >= 3  # decile chart, concentration curve, map
    page.screenshot(path=str(ARTIFACTS / "funding_reach.png"), full_page=True)
