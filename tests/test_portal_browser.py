"""The portal in a real browser: Debian's Chromium, headless, driven by Playwright, against a live server.

Flows: search → dataset page → viewer → click a feature → its attributes; upload a file by drag and drop
and watch it publish; switch language; administration. Every request outside 127.0.0.1 fails the test.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import base64
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import pytest
from playwright import sync_api  # noqa: E402  (the test extra; make install)

from conftest import LiveServer, kartenn, shared
from kartenn.services.publish import publish_file

pytestmark = pytest.mark.live  # its clients open their own connections

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
STATIC = Path(__file__).resolve().parents[1] / "src" / "kartenn" / "web" / "static" / "manifest.json"
DEMO = Path(__file__).resolve().parents[1] / "demo" / "data"
AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
# Some waits span several requests and a render on a busy machine: 20 s rather than Playwright's 5 s.
sync_api.expect.set_options(timeout=20_000)


class Browser:
    """One Chromium profile; every page it opens may only talk to 127.0.0.1."""

    def __init__(self, playwright, profile: Path, store: str, **options) -> None:
        self.store = store
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=ARGS, viewport={"width": 1280, "height": 860},
            accept_downloads=True, **options)
        self.context.route("**/*", self._only_local)

    def _only_local(self, route) -> None:
        host = urlparse(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def page(self):
        page = self.context.pages[0] if self.context.pages else self.context.new_page()
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" and "favicon" not in m.text
                and "404" not in m.text and "403" not in m.text and "412" not in m.text else None)
        return page

    def shot(self, page, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{self.store}.png"), full_page=True)

    def check_accessibility(self, page, name: str) -> None:
        """axe-core on the page as it is now: no serious or critical WCAG 2 A/AA violation (contrast included)."""
        if not AXE.exists():
            pytest.fail("axe-core is missing: scripts/install-test-deps.sh installs it")
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.evaluate(AXE.read_text(encoding="utf-8"))  # run by the debugger: the page's own policy allows none
        found = page.evaluate("""async () => {
            const r = await axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa"]},
                                               resultTypes: ["violations"]});
            return r.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + " — " + n.failureSummary)}));
        }""")
        assert not found, f"accessibility of {name} ({page.url}):\n" + "\n".join(
            f"{v['impact']} {v['id']}: {v['help']}\n    " + "\n    ".join(v["nodes"]) for v in found)

    def close(self) -> None:
        self.context.close()
        assert not self.outside, f"requests outside 127.0.0.1: {self.outside}"
        assert not self.errors, f"errors in the browser: {self.errors}"


@pytest.fixture(scope="module")
def playwright() -> Iterator:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: scripts/install-test-deps.sh installs it")
    if not STATIC.exists():
        pytest.fail("the front end is not built: make assets")
    with sync_api.sync_playwright() as p:
        yield p


@pytest.fixture
def browser(playwright, tmp_path, store) -> Iterator[Browser]:
    b = Browser(playwright, tmp_path / "chromium", store, locale="en-GB")
    yield b
    b.close()


@pytest.fixture
def regions(site):
    outcome = publish_file(site, shared("france-admin-express-2018/regions.geojson"), title="Régions de France")[0]
    assert not outcome.error
    return outcome.dataset


def test_search_dataset_viewer_feature_info(regions, server, browser):
    page = browser.page()
    page.goto(f"{server.url}/?lang=en")
    page.get_by_label("Search the catalogue").fill("régions")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=*")
    sync_api.expect(page.locator("#extent-map canvas").first).to_be_visible()
    browser.shot(page, "search")
    # Search within the extent map's view: the bbox goes in the address, the regions are still found.
    page.get_by_role("button", name="Search in this extent").click()
    page.wait_for_url("**bbox=*")
    sync_api.expect(page.locator("#results-h")).to_have_text("1 results")
    page.get_by_role("link", name="Régions de France").click()
    page.wait_for_url(f"**/datasets/{regions.id}")
    # The attribute table pages through OGC API items.
    table = page.locator(".attribute-table")
    sync_api.expect(table.locator(".status")).to_have_text("Features 1–10 of 13")
    sync_api.expect(table.locator("tbody tr")).to_have_count(10)
    table.get_by_role("button", name="Next").click()
    sync_api.expect(table.locator(".status")).to_have_text("Features 11–13 of 13")
    sync_api.expect(page.locator("#preview-map canvas").first).to_be_visible()
    page.wait_for_timeout(500)
    browser.shot(page, "dataset")

    page.get_by_role("link", name="Open in the map viewer").click()
    page.wait_for_url("**/map?layers=*")
    sync_api.expect(page.locator("#viewer-map")).to_have_attribute("data-ready", "true")
    sync_api.expect(page.locator("li.layer")).to_have_count(1)
    page.wait_for_timeout(1500)  # tiles and basemap drawn
    # The map's state is in the URL.
    assert "view=" in page.url and f"layers={regions.id}" in page.url
    # Click the middle of the map: France's centre, in a region; its attributes show in the panel.
    box = page.locator("#viewer-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    info = page.locator("#info-body table.feature").first
    sync_api.expect(info).to_be_visible(timeout=15_000)
    sync_api.expect(info.locator("th", has_text="nom")).to_have_count(1)
    name = info.locator("tr", has=page.locator("th", has_text="nom")).locator("td").inner_text()
    assert name in {"Centre-Val de Loire", "Île-de-France", "Bourgogne-Franche-Comté", "Auvergne-Rhône-Alpes",
                    "Nouvelle-Aquitaine", "Pays de la Loire"}, name
    browser.shot(page, "viewer-feature-info")
    browser.check_accessibility(page, "the viewer with feature information")

    # Measure a distance: two clicks and a double-click.
    page.get_by_role("button", name="Measure a distance").click()
    x, y = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5
    page.mouse.click(x, y)
    page.mouse.dblclick(x + 200, y)
    sync_api.expect(page.locator("#measure-result")).to_contain_text(re.compile(r"Length: [\d.]+ km"))
    page.get_by_role("button", name="Measure a distance").click()

    # Legend from GetLegendGraphic, opacity, and the export to PNG.
    page.locator("li.layer summary").click()
    legend = page.locator("li.layer details img")
    sync_api.expect(legend).to_be_visible()
    assert legend.evaluate("img => img.naturalWidth") > 0
    page.locator(f"#opacity-{regions.id}").fill("0.5")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export as PNG").click()
    png = Path(download.value.path()).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_upload_by_drag_and_drop_publishes(site, server, editor_token, playwright, tmp_path, store):
    from kartenn.services import workflow

    # Login pages are not part of this test: the browser sends the editor's API token on every request.
    browser = Browser(playwright, tmp_path / "chromium", store, locale="en-GB",
                      extra_http_headers={"Authorization": f"Bearer {editor_token}"})
    try:
        page = browser.page()
        page.goto(f"{server.url}/upload?lang=en")
        sync_api.expect(page.get_by_role("link", name="Publish")).to_be_visible()  # editors see the menu entry
        lakes = shared("natural-earth/ne_110m_lakes.geojson").read_text(encoding="utf-8")
        transfer = page.evaluate_handle(
            "text => { const t = new DataTransfer();"
            " t.items.add(new File([text], 'lakes_of_the_world.geojson', {type: 'application/geo+json'}));"
            " return t; }", lakes)
        page.dispatch_event("#drop-zone", "drop", {"dataTransfer": transfer})
        sync_api.expect(page.locator("#upload-name")).to_contain_text("lakes_of_the_world.geojson")
        sync_api.expect(page.get_by_label("Title (optional)")).to_have_value("lakes of the world")
        page.get_by_label("Public (everyone may view and download)").check()
        # Writes carry the page's CSRF token (filled by the session code) as X-CSRF-Token.
        page.evaluate("document.querySelector('meta[name=csrf-token]').content = 'token-of-the-page'")
        writes: list[tuple[str, str, str | None]] = []
        page.on("request", lambda r: writes.append((r.method, r.url, r.headers.get("x-csrf-token")))
                if r.method not in ("GET", "HEAD") else None)
        page.get_by_role("button", name="Publish", exact=True).click()
        sync_api.expect(page.locator("#upload-status")).to_have_text("Published.", timeout=60_000)
        sync_api.expect(page.locator("#upload-progress")).to_have_attribute("value", "100")
        # What was detected: the CRS, geometry, count, extent and the attribute schema with types.
        result = page.locator("#upload-result .published")
        detected = result.locator("dl.detected")
        sync_api.expect(detected).to_contain_text("EPSG:4326")
        sync_api.expect(detected).to_contain_text("Polygon")
        sync_api.expect(detected.locator("dt", has_text="Features")).to_have_count(1)
        sync_api.expect(detected.locator("dd").nth(2)).to_have_text("25")
        schema = result.get_by_role("table", name="Attributes")
        sync_api.expect(schema.locator("tr", has_text="scalerank")).to_contain_text("integer")
        sync_api.expect(schema.locator("tr", has_text="name_alt")).to_contain_text("string")
        # The description, prefilled from the dataset's record, saved as a new version of it.
        sync_api.expect(result.get_by_label("Title", exact=True)).to_have_value("lakes of the world")
        sync_api.expect(result.get_by_label("Title", exact=True)).to_be_focused()
        result.get_by_label("Abstract").fill("The large lakes of the world, from Natural Earth.")
        keywords = result.get_by_label("Keywords (separated by commas)")
        keywords.fill(", ".join(filter(None, [keywords.input_value(), "hydrography"])))
        result.get_by_label("Lineage").fill("Natural Earth 1:110m physical vectors.")
        result.get_by_label("Inland waters").check()
        result.get_by_label("Language of the data").select_option("eng")
        sync_api.expect(result.get_by_role("button", name="Submit for review")).to_be_hidden()  # published already
        result.get_by_role("button", name="Save the description").click()
        sync_api.expect(result.locator(".describe-status")).to_have_text("Description saved.")
        browser.shot(page, "upload")
        browser.check_accessibility(page, "the upload wizard's last step")
        dataset_id = result.get_attribute("data-dataset")
        record = _edited(site, site.catalog.get_dataset(dataset_id).record_id)  # waits for review
        assert record.abstract == "The large lakes of the world, from Natural Earth."
        assert "hydrography" in record.keywords and record.topics == ["inlandWaters"] and record.language == "eng"
        assert site.catalog.get_record(record.id).abstract != record.abstract
        assert writes == [("POST", f"{server.url}/api/v1/uploads", "token-of-the-page"),
                          ("PUT", f"{server.url}/api/v1/records/{record.id}", "token-of-the-page")], writes
        # submitted from the wizard, approved by a reviewer: the description is published
        result.get_by_role("button", name="Submit for review").click()
        sync_api.expect(result.locator(".describe-status")).to_have_text("Submitted for review.")
        site.accounts.add_user("rita")
        site.accounts.set_membership("rita", "iuem", "reviewer")
        workflow.approve(site.seen_by(site.accounts.identity("rita", "write")), record.id)
        result.get_by_role("link", name="See the dataset").click()
        sync_api.expect(page.locator("h1")).to_have_text("lakes of the world")
        sync_api.expect(page.locator("p.abstract")).to_have_text("The large lakes of the world, from Natural Earth.")
        sync_api.expect(page.locator("a.tag", has_text="hydrography")).to_have_count(1)
        sync_api.expect(page.locator("dl.facts")).to_contain_text("Natural Earth 1:110m physical vectors.")
        sync_api.expect(page.locator(".attribute-table .status")).to_have_text("Features 1–10 of 25")
        sync_api.expect(page.locator("#preview-map canvas").first).to_be_visible()
        page.wait_for_timeout(1000)  # the preview's basemap and WMS image drawn
        browser.shot(page, "uploaded-dataset")
    finally:
        browser.close()
    # Published for everyone: an anonymous client finds it.
    with server.client() as http:
        assert any(d["title"] == "lakes of the world" for d in http.get("/api/v1/datasets").json()["datasets"])


def test_upload_wizard_shows_a_rasters_bands_in_french(site, server, editor_token, playwright, tmp_path, store):
    browser = Browser(playwright, tmp_path / "chromium", store, locale="fr-FR",
                      extra_http_headers={"Authorization": f"Bearer {editor_token}"})
    try:
        page = browser.page()
        page.goto(f"{server.url}/upload")
        page.get_by_label("Choisir un fichier").set_input_files(str(DEMO / "opengeos-dtm.tif"))
        sync_api.expect(page.get_by_label("Titre (facultatif)")).to_have_value("opengeos dtm")
        page.get_by_role("button", name="Publier", exact=True).click()
        sync_api.expect(page.locator("#upload-status")).to_have_text("Publié.", timeout=60_000)
        detected = page.locator("#upload-result .published dl.detected")
        sync_api.expect(detected).to_contain_text("EPSG:26918")
        sync_api.expect(detected.locator("dt", has_text="Taille")).to_have_count(1)
        sync_api.expect(detected).to_contain_text("283 × 259 pixels")
        sync_api.expect(detected.locator("dt", has_text="Bandes")).to_have_count(1)
        sync_api.expect(detected).to_contain_text("1 · float32")
        sync_api.expect(page.get_by_role("table", name="Attributs")).to_be_hidden()
        page.get_by_label("Résumé").fill("Modèle numérique de terrain issu d'un levé lidar.")
        page.get_by_label("Altitude").check()
        page.get_by_role("button", name="Enregistrer la description").click()
        sync_api.expect(page.locator(".describe-status")).to_have_text("Description enregistrée.")
        browser.check_accessibility(page, "the upload wizard, raster, in French")
        page.get_by_role("link", name="Voir le jeu de données").click()
        # The editor's description of the published dataset waits for review: its form shows the working copy.
        sync_api.expect(page.locator("#md-abstract")).to_have_value("Modèle numérique de terrain issu d'un levé lidar.")
    finally:
        browser.close()


def test_log_in_publish_and_log_out(site, server, browser, regions):
    """The whole way through the login form: the session cookie, then a publication that carries the session's
    CSRF token, private to the editor's organisation; then logging out."""
    from kartenn.services.identity import hash_password

    site.accounts.add_organisation("iuem", "IUEM")
    site.accounts.add_user("anne", password_hash=hash_password("correct horse battery"))
    site.accounts.set_membership("anne", "iuem", "editor")
    page = browser.page()
    page.goto(f"{server.url}/upload?lang=en")
    page.locator("header a.login").click()
    page.wait_for_url("**/auth/login?next=*")
    page.get_by_label("User name").fill("anne")
    page.get_by_label("Password").fill("wrong password!")
    page.get_by_role("button", name="Log in").click()
    sync_api.expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server.url}/upload?lang=en")  # back where the visitor was
    sync_api.expect(page.locator("header .user")).to_contain_text("anne")
    cookie = next(c for c in browser.context.cookies() if c["name"] == "kartenn_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    token = page.locator("meta[name=csrf-token]").get_attribute("content")
    assert token and len(token) > 20
    lakes = shared("natural-earth/ne_110m_lakes.geojson").read_text(encoding="utf-8")
    transfer = page.evaluate_handle(
        "text => { const t = new DataTransfer();"
        " t.items.add(new File([text], 'private_lakes.geojson', {type: 'application/geo+json'})); return t; }", lakes)
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": transfer})
    page.get_by_role("button", name="Publish", exact=True).click()
    sync_api.expect(page.locator("#upload-status")).to_have_text("Published.", timeout=60_000)
    # The description is saved with the session's cookie and its CSRF token; without the token it is refused.
    page.get_by_label("Abstract").fill("Lakes, for IUEM only.")
    page.get_by_role("button", name="Save the description").click()
    sync_api.expect(page.locator(".describe-status")).to_have_text("Description saved.")
    page.evaluate("document.querySelector('meta[name=csrf-token]').content = 'forged'")
    page.get_by_label("Abstract").fill("Changed from elsewhere.")
    page.get_by_role("button", name="Save the description").click()
    sync_api.expect(page.locator(".describe-status")).to_contain_text("Error")
    page.evaluate(f"document.querySelector('meta[name=csrf-token]').content = {token!r}")
    browser.shot(page, "logged-in-upload")
    with server.client() as http:  # private to IUEM: anonymous visitors do not see it
        assert not any(d["title"] == "private lakes" for d in http.get("/api/v1/datasets").json()["datasets"])
    dataset_id = page.get_by_role("link", name="See the dataset").get_attribute("href").rsplit("/", 1)[-1]
    assert _edited(site, site.catalog.get_dataset(dataset_id).record_id).abstract == "Lakes, for IUEM only."

    # A saved map, public, with the private layer and a public one.
    page.goto(f"{server.url}/map?lang=en&layers={dataset_id},regions~wms")
    sync_api.expect(page.locator("#viewer-map")).to_have_attribute("data-ready", "true")
    sync_api.expect(page.locator("li.layer")).to_have_count(2)
    page.get_by_label("Title of this map").fill("Lakes and regions")
    page.get_by_label("Public (everyone may open it)").check()
    page.get_by_role("button", name="Save this map").click()
    saved = page.locator("#saved-link")
    sync_api.expect(saved).to_be_visible()
    saved_url = saved.get_attribute("href")
    page.goto(saved_url)
    sync_api.expect(page.locator("#viewer-map")).to_have_attribute("data-ready", "true")
    sync_api.expect(page.locator("li.layer")).to_have_count(2)
    sync_api.expect(page.locator(".saved-maps")).to_contain_text("Lakes and regions")
    page.wait_for_timeout(1500)  # tiles and WMS images drawn
    browser.shot(page, "saved-map")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{server.url}/")
    sync_api.expect(page.locator("header a.login")).to_be_visible()
    assert not [c for c in browser.context.cookies() if c["name"] == "kartenn_session"]
    # Anyone may open the public map, without the layer they may not see.
    page.goto(saved_url)
    sync_api.expect(page.locator("#viewer-map")).to_have_attribute("data-ready", "true")
    sync_api.expect(page.locator("li.layer")).to_have_count(1)
    sync_api.expect(page.locator("#save-map")).to_have_count(0)  # saving needs an account


def test_login_and_signup_pages_are_in_the_portal_frame(site, server, browser):
    """Same header, menu, language switch and skip link as every page; the switch keeps where to go back to,
    never somewhere else."""
    page = browser.page()
    page.goto(f"{server.url}/auth/login?lang=en&next=/upload")
    sync_api.expect(page.locator("header.site nav").get_by_role("link", name="Search")).to_be_visible()
    sync_api.expect(page.get_by_role("heading", name="Log in", level=1)).to_be_visible()
    page.keyboard.press("Tab")
    sync_api.expect(page.locator("a.skip")).to_be_focused()
    page.keyboard.press("Enter")
    sync_api.expect(page.locator("main")).to_be_focused()
    page.get_by_role("link", name="Français").click()
    page.wait_for_url("**/auth/login?lang=fr&next=%2Fupload")
    sync_api.expect(page.locator("html")).to_have_attribute("lang", "fr")
    sync_api.expect(page.get_by_role("heading", name="Se connecter", level=1)).to_be_visible()
    sync_api.expect(page.locator("input[name=next]")).to_have_value("/upload")
    # The language chosen holds on the portal's pages; the sign-up page has the same frame.
    page.get_by_role("link", name="Demander un compte").click()
    sync_api.expect(page.locator("html")).to_have_attribute("lang", "fr")
    sync_api.expect(page.locator("header.site nav").get_by_role("link", name="Visualiseur")).to_be_visible()
    sync_api.expect(page.get_by_label("Identifiant")).to_be_visible()
    assert page.locator("form[action='/auth/signup'] input[name=csrf_token]").input_value()
    # Somewhere else to go back to is dropped, in the form and in the language switch.
    page.goto(f"{server.url}/auth/login?lang=en&next=//evil.example/x")
    sync_api.expect(page.locator("input[name=next]")).to_have_value("/")
    assert "evil" not in page.get_by_role("link", name="Français").get_attribute("href")
    assert "evil" not in page.locator("header a.login").get_attribute("href")
    browser.shot(page, "login")


def test_editors_see_validation_and_share_the_dataset(site, server, browser):
    from kartenn.domain.security import Sharing
    from kartenn.services.identity import hash_password

    site.accounts.add_organisation("iuem", "IUEM")
    site.accounts.add_organisation("lille", "Lille")
    site.accounts.add_user("anne", password_hash=hash_password("correct horse battery"))
    site.accounts.set_membership("anne", "iuem", "editor")
    outcome = publish_file(site, shared("natural-earth/ne_110m_lakes.geojson"), title="Lacs",
                           sharing=Sharing(org="iuem", user="anne", public=False))[0]
    assert not outcome.error
    page = browser.page()
    page.goto(f"{server.url}/auth/login?lang=en&next=/datasets/{outcome.dataset.id}")
    page.get_by_label("User name").fill("anne")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**/datasets/{outcome.dataset.id}")
    section = page.locator("#editing")
    sync_api.expect(section.get_by_role("heading", name="Validation report")).to_be_visible()
    sync_api.expect(page.locator("#validation-summary")).to_contain_text("warnings (INSPIRE)")
    sync_api.expect(section).not_to_contain_text("no resource locator")  # its services are its locators
    sync_api.expect(page.locator("#record-state")).to_have_text("published")
    # The metadata form saves a new version of the record; the validation report follows.
    sync_api.expect(section).to_contain_text("no resource abstract")
    page.get_by_label("Abstract").fill("Les grands lacs du monde, d'après Natural Earth.")
    page.get_by_label("Keywords (separated by commas)").fill("lacs, hydrographie")
    page.get_by_role("button", name="Save a new version").click()
    sync_api.expect(page.get_by_label("Abstract")).to_have_value("Les grands lacs du monde, d'après Natural Earth.")
    sync_api.expect(section).not_to_contain_text("no resource abstract")
    # an editor's change of the published record: its working copy, shown and checked here, waits for review
    sync_api.expect(page.locator("#record-state")).to_have_text("draft")
    sync_api.expect(page.locator("#working-copy")).to_contain_text("wait for review")
    record = _edited(site, outcome.dataset.record_id)
    assert record.keywords == ["lacs", "hydrographie"] and record.abstract.startswith("Les grands lacs")
    assert site.catalog.get_record(record.id).abstract != record.abstract
    page.get_by_label("Who", exact=True).select_option("org")
    page.get_by_placeholder("organisation or user").fill("lille")
    page.get_by_label("May", exact=True).select_option("view")
    page.get_by_role("button", name="Give").click()
    row = page.locator("table.grants tbody tr", has_text="lille")
    sync_api.expect(row).to_have_count(1)
    browser.shot(page, "editing")
    assert {"principal": "org", "principal_id": "lille", "action": "view"}.items() <= \
        next(g for g in site.accounts.grants_of("dataset", outcome.dataset.id) if g["principal"] == "org").items()
    row.get_by_role("button", name="Take back").click()
    sync_api.expect(page.locator("table.grants tbody tr", has_text="lille")).to_have_count(0)
    # A member of IUEM sees the dataset, not its editing section.
    site.accounts.add_user("marc")
    site.accounts.set_membership("marc", "iuem", "member")
    from kartenn.services.identity import create_token

    with server.client(create_token(site, "marc")) as http:
        text = http.get(f"/datasets/{outcome.dataset.id}").text
        assert "Lacs" in text and 'id="editing"' not in text


def _edited(site, record_id: str):  # type: ignore[no-untyped-def]
    """The record as its editors see it: its working copy while an editor's change of it waits for review."""
    from kartenn.services.working_copies import current

    return current(site, site.catalog.get_record(record_id))


def _drop_lakes(page, server) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server.url}/upload?lang=en")
    lakes = shared("natural-earth/ne_110m_lakes.geojson").read_text(encoding="utf-8")
    transfer = page.evaluate_handle(
        "text => { const t = new DataTransfer();"
        " t.items.add(new File([text], 'lakes.geojson', {type: 'application/geo+json'})); return t; }", lakes)
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": transfer})
    page.get_by_role("button", name="Publish", exact=True).click()


def test_a_change_made_meanwhile_is_not_overwritten(site, server, editor_token, playwright, tmp_path, store):
    """The wizard's description and the dataset page's metadata form change only the version they showed
    (If-Match): when someone else changed the record meanwhile, nothing is saved and the editor is told, in
    English and in French."""
    from kartenn.services import workflow

    elsewhere = site.seen_by(site.accounts.identity("editor"))
    browser = Browser(playwright, tmp_path / "chromium", store, locale="en-GB",
                      extra_http_headers={"Authorization": f"Bearer {editor_token}"})
    try:
        page = browser.page()
        conditions: list[str | None] = []
        page.on("request", lambda r: conditions.append(r.headers.get("if-match")) if r.method == "PUT" else None)
        _drop_lakes(page, server)
        sync_api.expect(page.locator("#upload-status")).to_have_text("Published.", timeout=60_000)
        result = page.locator("#upload-result .published")
        record_id = site.catalog.get_dataset(result.get_attribute("data-dataset")).record_id
        result.get_by_label("Abstract").fill("First description.")
        result.get_by_role("button", name="Save the description").click()
        sync_api.expect(result.locator(".describe-status")).to_have_text("Description saved.")
        workflow.edit(elsewhere, record_id, fields={"abstract": "Changed elsewhere."})
        result.get_by_label("Abstract").fill("Second description.")
        result.get_by_role("button", name="Save the description").click()
        sync_api.expect(result.locator(".describe-status")).to_have_text(
            "Someone else changed this description meanwhile: nothing was saved. Their version is on the "
            "dataset's page.")
        assert _edited(site, record_id).abstract == "Changed elsewhere."
        assert len(conditions) == 2 and all(conditions) and conditions[0] != conditions[1], conditions
        # The dataset page, in French: its form changes the version it shows, or nothing.
        dataset_id = result.get_attribute("data-dataset")
        page.goto(f"{server.url}/datasets/{dataset_id}?lang=fr")
        sync_api.expect(page.locator("#md-abstract")).to_have_value("Changed elsewhere.")
        workflow.edit(elsewhere, record_id, fields={"abstract": "Changed elsewhere again."})
        page.locator("#md-abstract").fill("Troisième description.")
        page.get_by_role("button", name="Enregistrer une nouvelle version").click()
        sync_api.expect(page.locator("#editing-status")).to_have_text(
            "Quelqu'un d'autre a modifié cette fiche entre-temps : rien n'a été enregistré. Rechargez la page pour "
            "voir sa version, puis refaites votre modification.")
        assert _edited(site, record_id).abstract == "Changed elsewhere again."
        page.reload()
        page.locator("#md-abstract").fill("Troisième description.")
        with page.expect_navigation():  # saved: the page is shown again, from the server
            page.get_by_role("button", name="Enregistrer une nouvelle version").click()
        sync_api.expect(page.locator("#md-abstract")).to_have_value("Troisième description.")
        assert _edited(site, record_id).abstract == "Troisième description."
    finally:
        browser.close()


def test_upload_wizard_says_when_reading_the_result_fails(site, server, editor_token, playwright, tmp_path, store):
    """A failure after the ingest (here, reading the new record) is shown, not left as a silent stop."""
    browser = Browser(playwright, tmp_path / "chromium", store, locale="en-GB",
                      extra_http_headers={"Authorization": f"Bearer {editor_token}"})
    try:
        page = browser.page()
        page.route("**/api/v1/records/*", lambda route: route.abort() if route.request.method == "GET"
                   else route.continue_())
        _drop_lakes(page, server)
        sync_api.expect(page.locator("#upload-status")).to_contain_text("Error: ", timeout=60_000)
        sync_api.expect(page.locator("#upload-result .published")).to_have_count(0)
        browser.errors.clear()  # the aborted request, on the console
    finally:
        browser.close()


def test_time_slider_on_a_time_enabled_layer(site, server, browser):
    (outcome,) = publish_file(site, shared("timeseries/mapserver-obs.csv"))
    assert not outcome.error
    ds = outcome.dataset.id
    with server.client() as http:
        times = http.get(f"/api/v1/datasets/{ds}").json()["time"]["values"]
    assert times == sorted(times) and "2001-10-30T14:24:55Z" in times and len(times) > 3
    page = browser.page()
    page.goto(f"{server.url}/map?lang=en&layers={ds}~wms")
    sync_api.expect(page.locator("#viewer-map")).to_have_attribute("data-ready", "true")
    slider = page.locator(f"#time-{ds}")
    sync_api.expect(slider).to_be_visible()
    first = times[0].replace(":", "%3A")
    with page.expect_request(lambda r: "GetMap" in r.url and (f"TIME={first}" in r.url or f"TIME={times[0]}" in r.url)):
        slider.fill("0")
    sync_api.expect(page.locator(f"#time-out-{ds}")).to_have_text(times[0])
    browser.shot(page, "time-slider")


def test_language_switch_keeps_the_page(regions, server, browser):
    page = browser.page()
    page.goto(f"{server.url}/datasets/{regions.id}")
    sync_api.expect(page.locator("html")).to_have_attribute("lang", "en")  # the browser's language
    sync_api.expect(page.get_by_role("heading", name="Attribute table")).to_be_visible()
    page.get_by_role("link", name="Français").click()
    page.wait_for_url(f"**/datasets/{regions.id}?lang=fr")
    sync_api.expect(page.locator("html")).to_have_attribute("lang", "fr")
    sync_api.expect(page.get_by_role("heading", name="Table attributaire")).to_be_visible()
    sync_api.expect(page.locator(".attribute-table .status")).to_have_text("Objets 1 à 10 sur 13")
    # The choice holds on the next pages, and the skip link leads to the content by keyboard.
    page.get_by_role("link", name="Visualiseur", exact=True).click()
    sync_api.expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.keyboard.press("Tab")
    sync_api.expect(page.locator("a.skip")).to_be_focused()
    sync_api.expect(page.locator("a.skip")).to_have_text("Aller au contenu")
    browser.shot(page, "viewer-fr")
    page.get_by_role("link", name="English").click()
    sync_api.expect(page.locator("html")).to_have_attribute("lang", "en")
    assert urlparse(page.url).path == "/map"


def test_admin_page_and_every_page_stays_local(site, server, playwright, tmp_path, store):
    from kartenn.services.identity import hash_password

    site.accounts.add_organisation("iuem", "IUEM")
    site.accounts.add_user("root", admin=True, password_hash=hash_password("a long admin password"))
    # HTTP Basic with the local password, on every request (the server accepts it, as OWS clients send it).
    basic = base64.b64encode(b"root:a long admin password").decode()
    browser = Browser(playwright, tmp_path / "chromium", store, locale="fr-FR",
                      extra_http_headers={"Authorization": f"Basic {basic}"})
    try:
        page = browser.page()
        page.goto(f"{server.url}/admin")
        sync_api.expect(page.locator("#admin")).to_have_attribute("data-ready", "true")
        sync_api.expect(page.locator("#admin-orgs")).to_contain_text("IUEM")
        page.get_by_label("Nom").first.fill("Université de Lille")
        page.locator("#org-id").fill("lille")
        page.get_by_role("button", name="Ajouter l'organisme").click()
        sync_api.expect(page.locator("#admin-orgs")).to_contain_text("Université de Lille")
        browser.shot(page, "admin")
        for path in ("/", "/search", "/organisations", "/organisations/lille", "/map", "/upload"):
            page.goto(f"{server.url}{path}")
            page.wait_for_load_state("networkidle")
    finally:
        browser.close()
    assert site.accounts.has_organisation("lille")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_main_pages_pass_wcag_2_aa(site, server, playwright, tmp_path, store, lang, regions):
    """axe-core in every main page, in both languages, as an administrator (who sees every part of them)."""
    from kartenn.services.identity import hash_password

    site.accounts.add_organisation("iuem", "IUEM")
    site.accounts.add_user("root", admin=True, password_hash=hash_password("a long admin password"))
    basic = base64.b64encode(b"root:a long admin password").decode()
    admin = Browser(playwright, tmp_path / "admin", store, locale="en-GB",
                    extra_http_headers={"Authorization": f"Basic {basic}"})
    visitor = Browser(playwright, tmp_path / "visitor", store, locale="en-GB")
    try:
        page = admin.page()
        for path, ready in (("/", None), (f"/search?q={regions.title.split()[0]}", "#extent-map canvas"),
                            (f"/datasets/{regions.id}", ".attribute-table tbody tr:nth-child(10)"),
                            (f"/map?layers={regions.id}", "#viewer-map[data-ready=true]"),
                            ("/upload", None), ("/admin", "#admin[data-ready=true]"), ("/organisations", None)):
            page.goto(f"{server.url}{path}{'&' if '?' in path else '?'}lang={lang}")
            if ready:
                page.locator(ready).first.wait_for()
            page.wait_for_load_state("networkidle")
            admin.check_accessibility(page, path)
        sync_api.expect(page.locator("html")).to_have_attribute("lang", lang)
        # The check sees what it should: grey text on white fails it.
        page.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend',"
                      " '<p style=\"color:#aaa;background:#fff\">pale</p>')")
        with pytest.raises(AssertionError, match="color-contrast"):
            admin.check_accessibility(page, "pale text")
        page = visitor.page()
        for path in ("/auth/login?next=/upload", "/auth/signup"):
            page.goto(f"{server.url}{path}&lang={lang}" if "?" in path else f"{server.url}{path}?lang={lang}")
            visitor.check_accessibility(page, path)
        page.goto(f"{server.url}/auth/login?lang={lang}")
        page.locator("#username").fill("nobody")
        page.locator("#password").fill("not the password")
        page.get_by_role("button", name="Se connecter" if lang == "fr" else "Log in").click()
        sync_api.expect(page.get_by_role("alert")).to_be_visible()
        visitor.check_accessibility(page, "failed login")
    finally:
        admin.close()
        visitor.close()


def test_demo_site_search_dataset_viewer_feature_info(settings, browser):
    """The site `make demo` makes, loaded by the same command (`kartenn demo`, here without serving), then the
    visitor's way through it in French: search → dataset page → viewer → a feature's attributes."""
    from kartenn.demo import DESCRIPTIONS

    loaded = kartenn("demo", "--no-serve", "--data-dir", str(settings.data_dir), settings=settings, check=True)
    assert "error" not in loaded.stdout + loaded.stderr, loaded.stdout + loaded.stderr
    again = kartenn("demo", "--no-serve", "--data-dir", str(settings.data_dir), settings=settings, check=True)
    assert "published" not in again.stdout + again.stderr  # loading twice publishes nothing more
    server = LiveServer(settings).start()
    try:
        page = browser.page()
        page.goto(f"{server.url}/?lang=fr")
        sync_api.expect(page.locator("main")).to_contain_text(f"{len(DESCRIPTIONS)} jeux de données")
        page.get_by_label("Rechercher dans le catalogue").fill("régions")
        page.keyboard.press("Enter")
        page.wait_for_url("**/search?q=*")
        page.get_by_role("link", name="Régions de France (IGN Admin Express 2018)").click()
        page.wait_for_url("**/datasets/*")
        sync_api.expect(page.locator("main")).to_contain_text("Les 13 régions de France métropolitaine")
        sync_api.expect(page.locator("main")).to_contain_text("Kartenn demo")
        sync_api.expect(page.locator(".attribute-table .status")).to_have_text("Objets 1 à 10 sur 13")
        sync_api.expect(page.locator("#preview-map canvas").first).to_be_visible()
        page.get_by_role("link", name="Ouvrir dans le visualiseur").click()
        page.wait_for_url("**/map?layers=*")
        sync_api.expect(page.locator("#viewer-map")).to_have_attribute("data-ready", "true")
        sync_api.expect(page.locator("li.layer")).to_have_count(1)
        page.wait_for_timeout(1500)  # tiles and basemap drawn
        box = page.locator("#viewer-map").bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        info = page.locator("#info-body table.feature").first
        sync_api.expect(info).to_be_visible(timeout=15_000)
        name = info.locator("tr", has=page.locator("th", has_text="nom")).locator("td").inner_text()
        assert name in {"Centre-Val de Loire", "Île-de-France", "Bourgogne-Franche-Comté", "Auvergne-Rhône-Alpes",
                        "Nouvelle-Aquitaine", "Pays de la Loire"}, name
        sync_api.expect(info.locator("tr", has=page.locator("th", has_text="code")).locator("td")).not_to_be_empty()
        browser.shot(page, "demo-viewer")
    finally:
        for page in browser.context.pages:  # no request left to fail once the server stops
            page.goto("about:blank")
        server.stop()


@pytest.fixture(autouse=True, scope="module")
def _fresh_artifacts() -> None:
    if ARTIFACTS.exists():
        for old in ARTIFACTS.glob("*-embedded.png"):
            old.unlink()
    shutil.os.makedirs(ARTIFACTS, exist_ok=True)


def test_a_map_made_from_a_geoserver_layer_group_opens_with_its_styles(site, settings, server, browser):
    """ne:world (countries with the group's style "countries", populated places with their default) migrated into
    a saved map: the viewer asks the server for each layer with the style the map saved."""
    kartenn("migrate", "geoserver", str(shared("migration/geoserver-datadir")), "--data-dir", str(settings.data_dir),
            settings=settings, check=True)
    with server.client() as http:
        (world,) = http.get("/api/v1/maps").json()["maps"]  # public: GeoServer's rules let everyone read it
        layers = http.get(f"/api/v1/maps/{world['id']}").json()["map"]["layers"]
    styled = {layer["dataset"]: layer["style"] or "" for layer in layers}
    assert sorted(styled.values()) == ["", "countries"], layers
    countries = next(d for d, s in styled.items() if s)
    page = browser.page()
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "GetMap" in r.url else None)
    page.goto(f"{server.url}/map?lang=en&saved={world['id']}")
    sync_api.expect(page.locator("#viewer-map")).to_have_attribute("data-ready", "true")
    sync_api.expect(page.locator("li.layer")).to_have_count(2)
    page.wait_for_timeout(1500)  # the WMS images asked for
    for dataset_id, style in styled.items():
        mine = [parse_qs(urlparse(url).query) for url in asked
                if parse_qs(urlparse(url).query).get("LAYERS") == [dataset_id]]
        assert mine and all(q.get("STYLES", [""]) == [style] for q in mine), (dataset_id, asked)
    legend = page.locator(f"li.layer[data-layer='{countries}'] details img").get_attribute("src")
    assert "style=countries" in legend
    with server.client() as http:  # the legend of that style
        drawn = http.get(legend)
        assert drawn.status_code == 200 and drawn.headers["content-type"] == "image/png"
    assert f"{countries}~wms~~countries" in unquote(page.url)  # the state in the address keeps the style
    browser.shot(page, "saved-map-styles")
