"""The web app in Debian's headless Chromium, driven by Playwright, on a desktop and a phone screen.

Screenshots go to test-artifacts/ (git-ignored). Waits are generous (CI has 2 shared cores) and
nothing is timed: the page marks the map ``data-ready`` when a layer and its values are drawn.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from web_demo import shared_app, shared_server

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT = 120_000  # ms
SCREENS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def server(warehouse_path, tmp_path_factory):
    return shared_server(shared_app(warehouse_path, tmp_path_factory.mktemp("web")))


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"Debian chromium is missing at {CHROMIUM}: install it with `apt-get install chromium`")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module", params=list(SCREENS))
def screen(request, browser):
    """A page on a desktop (1366x900) or phone (390x844) screen; CSP violations are collected."""
    context = browser.new_context(viewport=SCREENS[request.param], accept_downloads=True)
    context.set_default_timeout(WAIT)
    page = context.new_page()
    page.csp_errors = []
    page.on("console", lambda m: "Content Security Policy" in m.text and page.csp_errors.append(m.text))
    yield request.param, page
    context.close()


@pytest.fixture(scope="module")
def desktop(browser):
    """A page on the desktop screen only, for checks that do not depend on the layout."""
    context = browser.new_context(viewport=SCREENS["desktop"], accept_downloads=True)
    context.set_default_timeout(WAIT)
    page = context.new_page()
    page.csp_errors = []
    page.on("console", lambda m: "Content Security Policy" in m.text and page.csp_errors.append(m.text))
    yield page
    context.close()


def fits(page) -> None:
    """No sideways scrolling: the page is no wider than the screen."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"] + 1, f"page is {width} px wide"


def wait_map(page, measure: str) -> None:
    page.wait_for_selector(f'#map[data-ready="{measure}"]', timeout=WAIT)
    page.wait_for_timeout(300)  # let the canvas paint before a screenshot


def test_map_draws_local_authorities(screen, server):
    name, page = screen
    page.goto(server + "/")
    wait_map(page, "imd2025:imd")
    assert page.get_attribute("#map", "data-level") == "lad24"
    assert int(page.get_attribute("#map", "data-features")) == 296
    assert page.locator("#legend i").count() == 10
    fits(page)
    box = page.locator("#map").bounding_box()
    assert box["width"] >= 0.9 * page.viewport_size["width"] * (1 if name == "phone" else 0.7)
    assert box["height"] >= 300
    page.screenshot(path=str(ARTIFACTS / f"map_{name}.png"))
    assert page.csp_errors == []


def test_2019_left_behind_wards_on_the_map(screen, server):
    name, page = screen
    page.goto(server + "/?show=lb2019&z=9&lat=53.80&lon=-2.60")
    wait_map(page, "lb2019")
    assert page.get_attribute("#map", "data-level") == "ward17"
    assert "Left behind 2019" in page.inner_text("#legend")
    assert "show=lb2019" in page.url and "z=9" in page.url
    fits(page)
    page.screenshot(path=str(ARTIFACTS / f"map_left_behind_2019_wards_{name}.png"))
    page.select_option("#show", "imd")
    page.select_option("#edition", "2019")
    page.select_option("#domain", "income")
    wait_map(page, "imd2019:income")
    assert page.get_attribute("#map", "data-level") == "ward17" and "edition=2019" in page.url
    assert page.csp_errors == []


def test_a_stored_neighbourhood_set_on_the_map_and_its_profile(screen, server):
    name, page = screen
    page.goto(server + "/?show=nbhd:lancs_demo&z=11&lat=53.76&lon=-2.70")
    wait_map(page, "imd2025:imd")
    assert page.get_attribute("#map", "data-level") == "nbhd:lancs_demo"
    assert int(page.get_attribute("#map", "data-features")) > 10
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("#map[data-selected]")
    assert "sel=" in page.url
    page.wait_for_timeout(300)
    fits(page)
    page.screenshot(path=str(ARTIFACTS / f"map_neighbourhood_set_{name}.png"))
    with page.expect_navigation():
        page.click("#open-profile")
    assert "/neighbourhood/lancs_demo/" in page.url
    assert "neighbourhood of set lancs_demo" in page.inner_text("h1")
    assert page.locator("#lsoas tbody tr").count() >= 1


def test_custom_area_profile_from_listed_codes(screen, server, con):
    name, page = screen
    codes = [r[0] for r in con.execute("SELECT lsoa21_code FROM hierarchy_lsoa21 WHERE lad24_code = 'E06000009' "
                                       "ORDER BY lsoa21_code LIMIT 12").fetchall()]
    page.goto(server + "/custom")
    page.fill("input[name=name]", "Central Blackpool patch")
    page.fill("textarea[name=codes]", "\n".join(codes))
    with page.expect_navigation():
        page.click("#custom-form button")
    assert "Central Blackpool patch" in page.inner_text("h1")
    assert "custom area of 12 LSOA(s)" in page.inner_text(".context")
    assert page.locator("#lsoas tbody tr").count() == 12
    fits(page)
    page.screenshot(path=str(ARTIFACTS / f"custom_area_profile_{name}.png"), full_page=True)
    assert page.csp_errors == []


def test_api_docs_work_offline(desktop, server):
    page = desktop
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(server + "/api/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "neighbourhood-lens" in page.inner_text(".swagger-ui .info .title")
    assert all(u.startswith(server) or u.startswith("data:") for u in requests), requests
    assert page.csp_errors == []


def test_search_a_ward_and_open_its_profile(screen, server):
    name, page = screen
    page.goto(server + "/left-behind")
    page.fill("#search", "Bloomfield")
    page.wait_for_selector("#search-results li a")
    with page.expect_navigation():
        page.click("#search-results li a:has-text('E05001645')")
    assert "/area/E05001645" in page.url
    assert "Bloomfield" in page.inner_text("h1")
    assert page.locator("#neighbours tbody tr").count() >= 2
    fits(page)
    page.screenshot(path=str(ARTIFACTS / f"profile_{name}.png"), full_page=True)


def test_left_behind_list_filters_and_downloads(desktop, server):
    page = desktop
    page.goto(server + "/left-behind?vintage=2019")
    assert page.locator("#lb-table tbody tr").count() == 225
    page.select_option("select[name=region]", label="North East")
    page.click("#lb-filters button[type=submit]")
    rows = page.locator("#lb-table tbody tr").count()
    assert 0 < rows < 225
    with page.expect_download() as info:
        page.click("#csv-download")
    assert len(Path(info.value.path()).read_text().strip().splitlines()) == rows + 1


def test_upload_shows_validation_messages(desktop, server, tmp_path):
    page = desktop
    bad = tmp_path / "grants.csv"
    bad.write_text("id,amount\n1,100\n")
    page.goto(server + "/funding")
    page.set_input_files("input[type=file]", str(bad))
    page.click("#upload-form button")
    page.wait_for_selector("#upload-errors")
    assert "Amount Awarded" in page.inner_text("#upload-errors")


def test_upload_a_sample_file_shows_the_reach_dashboard(desktop, server, tmp_path, con):
    from neighbourhood_lens.funding.reach import synthetic_grants, write_grants

    page = desktop
    sample = write_grants(synthetic_grants(con, 400, seed=3), tmp_path / "sample_grants.csv")
    page.goto(server + "/funding")
    page.set_input_files("input[type=file]", str(sample))
    page.select_option("select[name=index]", "imd2019")
    page.click("#upload-form button")
    page.wait_for_selector("#upload-summary")
    text = page.inner_text("#upload-summary")
    assert text.startswith("400 grants in:") and "every row accounted for" in text
    frame = page.frame_locator("#reach-report")
    assert "SYNTHETIC" in frame.locator("body").inner_text()
    assert frame.locator("svg, img").count() >= 3  # decile chart, concentration curve, map
    page.screenshot(path=str(ARTIFACTS / "funding_reach.png"), full_page=True)


@pytest.fixture(scope="module")
def phone(browser):
    """A page on the phone screen (390x844) only."""
    context = browser.new_context(viewport=SCREENS["phone"], device_scale_factor=1)
    context.set_default_timeout(WAIT)
    page = context.new_page()
    yield page
    context.close()


#: Every kind of page: the map, a profile of each area type, both left-behind lists, custom, funding, docs.
PHONE_PAGES = ["/", "/area/E08000021", "/area/E12000001", "/area/E02001734", "/area/E05011437", "/area/E05001089",
               "/area/E01008288", "/area/E01035622", "/left-behind?vintage=2019", "/left-behind?vintage=2023",
               "/custom", "/funding", "/api/docs"]


@pytest.mark.parametrize("url", PHONE_PAGES)
def test_no_page_is_wider_than_a_phone(phone, server, url):
    phone.goto(server + url)
    if url == "/":
        wait_map(phone, "imd2025:imd")
    if url == "/api/docs":
        phone.wait_for_selector(".swagger-ui .info .title")
    fits(phone)
    for chart in phone.locator("article svg[role=img]").all():  # the trajectory chart scales, never clipped
        box = chart.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 + 1 and box["height"] > 100
        last = chart.locator("text", has_text="2025").bounding_box()  # the last year is drawn inside the chart
        assert last["x"] + last["width"] <= box["x"] + box["width"] + 1


def test_phone_screenshots_of_a_profile_the_left_behind_list_and_a_search(phone, server):
    """Screenshots for docs/screenshots/ (copied from test-artifacts/ by hand when the layout changes)."""
    phone.goto(server + "/area/E05001089")
    chart = phone.locator("article svg[role=img]")
    chart.scroll_into_view_if_needed()
    assert chart.bounding_box()["width"] <= 390 and chart.locator("text", has_text="2025").count() == 1
    phone.screenshot(path=str(ARTIFACTS / "phone_profile_chart.png"))
    phone.goto(server + "/left-behind?vintage=2019")
    fits(phone)
    phone.screenshot(path=str(ARTIFACTS / "phone_left_behind.png"))
    phone.goto(server + "/")
    wait_map(phone, "imd2025:imd")
    phone.fill("#search", "Jaywick")
    first = phone.locator("#search-results li a").first
    first.wait_for()
    box = first.bounding_box()
    on_top = phone.evaluate("([x, y]) => document.elementFromPoint(x, y).closest('#search-results') !== null",
                            [box["x"] + 12, box["y"] + box["height"] / 2])
    assert on_top, "the map's controls cover the first search result"
    phone.screenshot(path=str(ARTIFACTS / "phone_search.png"))


def test_the_desktop_map_page_fits_the_window(browser, server):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(server + "/")
    wait_map(page, "imd2025:imd")
    assert page.evaluate("document.documentElement.scrollHeight") <= 900
    assert page.locator("footer.source").bounding_box()["y"] + page.locator("footer.source").bounding_box()[
        "height"] <= 900 + 1
    context.close()
