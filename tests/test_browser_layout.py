"""In Chromium at phone width (390 × 844) and on a desktop: every page an operator and an admin reach
fits the screen (nothing scrolls sideways), the navigation is collapsed into a menu that opens, the
160 rows of the port editor keep "Remove" on screen, every text colour has 4.5:1 contrast on what is
actually behind it, and diffs say what each row is without colour, under the right headings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from axes.models import AccessAttempt

from tests import connectionkit
from tests.auditkit import change
from tests.browser import field, sign_in
from tests.dashboard import client_for, make_account, make_user
from tests.editing import Editor
from tests.mfakit import verify_session
from vpcepadmin.audit.models import AuditRecord, Outcome
from vpcepadmin.changes.models import ChangeRequest
from vpcepadmin.credentials.models import CloudCredential

pytestmark = pytest.mark.browser
PASSWORD = "correct-horse-browser-staple"
PHONE = {"width": 390, "height": 844}
SERVICE = connectionkit.SERVICE_ID
PORTS = [{"client_port": 1000 + n, "server_port": 2000 + n, "protocol": "TCP"} for n in range(160)]
HEADER_HEIGHT = 64  # the navigation bar, collapsed
ABOVE_MAIN = 170  # navigation and banners together (they took 310 px)

# The WCAG contrast ratio of each element's text on what is painted behind it: the backgrounds of the
# element and its ancestors, with Bootstrap's table tints (an inset box-shadow) and alpha composited.
CONTRASTS = """(selector) => {
  const parse = (value) => {
    const m = value.match(/rgba?\\(([\\d.]+),\\s*([\\d.]+),\\s*([\\d.]+)(?:,\\s*([\\d.]+))?\\)/);
    return m ? [+m[1], +m[2], +m[3], m[4] === undefined ? 1 : +m[4]] : null;
  };
  const over = (top, bottom) => [0, 1, 2].map((i) => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
  const layers = (element) => {
    const found = [];
    for (let node = element; node; node = node.parentElement) {
      const style = getComputedStyle(node);
      const tint = style.boxShadow.match(/(rgba?\\([^)]*\\)) 0px 0px 0px 9999px inset/);
      if (tint) found.push(parse(tint[1]));
      const background = parse(style.backgroundColor);
      if (background && background[3] > 0) found.push(background);
      if (background && background[3] === 1) break;
    }
    return found.filter((c) => c && c[3] > 0);
  };
  const backdrop = (element) => layers(element).reverse().reduce((below, top) => over(top, below), [255, 255, 255, 1]);
  const luminance = (c) => {
    const [r, g, b] = c.slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const shown = (e) => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== "hidden";
  };
  return [...document.querySelectorAll(selector)]
    .filter((e) => shown(e) && !e.disabled && !e.closest(".visually-hidden") && e.innerText.trim())
    .map((e) => {
      const back = backdrop(e);
      const fore = over(parse(getComputedStyle(e).color), back);
      const [hi, lo] = [luminance(fore), luminance(back)].sort((a, b) => b - a);
      return {what: e.tagName.toLowerCase() + "." + [...e.classList].join("."), text: e.innerText.trim().slice(0, 40),
              ratio: (hi + 0.05) / (lo + 0.05)};
    });
}"""
CHECKED = ", ".join(
    (
        "main a:not(.btn)",
        "main .btn",
        ".text-muted",
        ".badge",
        ".env-banner",
        ".alert",
        "body > .bg-warning-subtle",
        ".form-text",
        ".invalid-feedback",
        ".diff-table td",
        ".diff-table th",
        "footer",
        ".navbar .nav-link",
    )
)


@dataclass
class Estate:
    """What the pages show: a staging account whose service has 160 mappings and connections, its
    audit records, a second account with four eyes and a request waiting, and a lockout."""

    account: CloudCredential
    record: AuditRecord
    request: ChangeRequest


@pytest.fixture
def estate(simulator: Any, db: None) -> Estate:
    seed = connectionkit.seed()
    seed["endpoint_services"][0]["ports"] = PORTS
    simulator.reset(seed)
    account = make_account(simulator.url, name="Staging orders platform (eu-de)")
    author = make_user("operator", username="alice")
    ports = [*PORTS[1:], {"client_port": 8022, "server_port": 2222, "protocol": "TCP"}]
    applied = change(account, SERVICE, author, description="orders API", ports=ports)
    assert applied.record is not None, applied.message
    # of the same project, so it is made after that change
    guarded = make_account(simulator.url, name="Guarded", requires_approval=True)
    client = client_for(author)
    verify_session(client, author)
    editor = Editor(client, guarded.pk, connectionkit.OTHER_SERVICE_ID)
    editor.load()
    editor.submit("review", description="four eyes")
    assert editor.submit("request", reason="OPS-7 rotate", description="four eyes").status_code == 302
    guarded.requires_approval = False  # the request stays open; the test account's changes apply again
    guarded.save()
    AccessAttempt.objects.create(
        username="mallory", ip_address="203.0.113.9", failures_since_start=5, user_agent="curl",
        path_info="/accounts/login/", get_data="", post_data="", http_accept="*/*",
    )  # fmt: skip
    return Estate(account, applied.record, ChangeRequest.objects.latest("pk"))


def _pages(estate: Estate, admin: bool) -> list[str]:
    service = f"/credentials/{estate.account.pk}/services/{SERVICE}/"
    pages = [
        "/",
        "/credentials/",
        f"/credentials/{estate.account.pk}/",
        f"/credentials/{estate.account.pk}/services/",
        service,
        service + "?tab=ports",
        service + "connections/",
        service + "whitelist/",
        service + "?tab=history",
        "/connections/pending/",
        f"/connections/pending/{estate.account.pk}/",
        "/approvals/",
        f"/approvals/{estate.request.pk}/",
        "/policies/",
        "/audit/",
        f"/audit/{estate.record.pk}/",
    ]
    if admin:
        pages += [
            "/credentials/new/",
            f"/credentials/{estate.account.pk}/edit/",
            "/lockouts/",
            "/notifications/",
        ]
    return pages


def _fits(page: Any) -> None:
    """Nothing scrolls sideways; the navigation is a closed menu; the bars above the page are short."""
    where = page.url
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{where} scrolls sideways: {width[0]} px wide in {width[1]}"
    header = page.locator("nav.navbar").bounding_box()
    assert header is not None and header["height"] <= HEADER_HEIGHT, (where, header)
    assert not page.locator("nav.navbar").get_by_role("link", name="Audit log").is_visible(), where
    top = page.evaluate("() => document.querySelector('main').getBoundingClientRect().top + window.scrollY")
    assert top <= ABOVE_MAIN, f"{where}: the page starts {top} px down"


def _open_edit_with_an_error(page: Any, estate: Estate) -> None:
    page.goto(f"/credentials/{estate.account.pk}/services/{SERVICE}/edit/")
    first = page.locator("#id_ports-0-client_port").input_value()
    page.locator("#id_ports-149-client_port").fill(first)
    page.get_by_role("button", name="Review changes").click()
    page.locator("#port-row-149 .invalid-feedback").wait_for()


def _removes_off_screen(page: Any) -> list[str]:
    return page.evaluate(
        """() => [...document.querySelectorAll('tr.port-row button[value^="remove:"]')]
             .filter((b) => {
               const r = b.getBoundingClientRect();
               return r.width === 0 || r.left < 0 || r.right > window.innerWidth;
             })
             .map((b) => b.getAttribute('aria-label'))"""
    )


def _review(page: Any, estate: Estate) -> None:
    page.goto(f"/credentials/{estate.account.pk}/services/{SERVICE}/edit/")
    field(page, "Description").fill("orders API, from the phone")
    page.locator("#id_ports-0-client_port").fill("23")
    page.get_by_role("button", name="Review changes").click()
    page.get_by_role("heading", name="Review your change").wait_for()


@pytest.mark.parametrize("role", ["operator", "admin"])
def test_it_fits_a_phone_on_every_page(page, estate, role) -> None:
    make_user(role, username="phone", password=PASSWORD)
    page.set_viewport_size(PHONE)
    sign_in(page, "phone", PASSWORD)
    for path in _pages(estate, admin=role == "admin"):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        _fits(page)

    _open_edit_with_an_error(page, estate)
    _fits(page)
    assert page.locator("tr.port-row").count() == 160
    assert _removes_off_screen(page) == []
    page.locator("#port-row-148").scroll_into_view_if_needed()
    page.screenshot(path=f"/tmp/layout-edit-errors-{role}.png")

    _review(page, estate)
    _fits(page)
    page.screenshot(path=f"/tmp/layout-review-{role}.png", full_page=True)
    change(estate.account, SERVICE, description="changed meanwhile")
    field(page, "Reason for change").fill("CHG-7: phone")
    page.get_by_role("button", name="Apply changes").click()
    page.get_by_role("heading", name=re.compile("changed")).first.wait_for()
    _fits(page)


def test_the_phone_menu_opens_without_javascript(browser, live_server, estate) -> None:
    make_user("admin", username="phone", password=PASSWORD)
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    sign_in(page, "phone", PASSWORD)
    page.goto(f"/credentials/{estate.account.pk}/services/{SERVICE}/")
    menu, audit = (
        page.locator("nav.navbar summary"),
        page.locator("nav.navbar").get_by_role("link", name="Audit log"),
    )
    assert menu.is_visible() and not audit.is_visible()
    page.screenshot(path="/tmp/layout-menu-closed.png")
    menu.click()
    audit.wait_for()
    assert page.get_by_role("button", name="Sign out").is_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path="/tmp/layout-menu-open.png")
    audit.click()
    page.get_by_role("heading", name="Audit log").first.wait_for()
    context.close()


def test_the_wide_navigation_shows_its_links_without_a_menu(page, estate) -> None:
    make_user("operator", username="wide", password=PASSWORD)
    sign_in(page, "wide", PASSWORD)
    assert page.locator("nav.navbar").get_by_role("link", name="Audit log").is_visible()
    assert not page.locator("nav.navbar summary").is_visible()


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_every_text_colour_has_4_5_to_1_contrast(page, estate, viewport) -> None:
    make_user("admin", username="eyes", password=PASSWORD)
    if viewport:
        page.set_viewport_size(viewport)
    sign_in(page, "eyes", PASSWORD)
    measured: list[dict[str, Any]] = []
    for path in ["/", *_pages(estate, admin=True)]:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        measured += [{**m, "page": path} for m in page.evaluate(CONTRASTS, CHECKED)]
    _open_edit_with_an_error(page, estate)
    measured += page.evaluate(CONTRASTS, CHECKED + ", .table-danger td, .table-danger .btn")
    _review(page, estate)
    measured += page.evaluate(CONTRASTS, CHECKED)
    whats = {m["what"].split(".")[0] + "." + m["what"].split(".")[1] for m in measured if "." in m["what"]}
    assert len(measured) > 300 and len(whats) > 10  # the check saw links, buttons, badges, diffs …
    low = [m for m in measured if m["ratio"] < 4.5]
    assert low == [], low[:20]


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_diffs_say_what_each_row_is_without_colour_under_before_and_after(page, estate, viewport) -> None:
    make_user("operator", username="reader", password=PASSWORD)
    if viewport:
        page.set_viewport_size(viewport)
    sign_in(page, "reader", PASSWORD)
    page.goto(f"/audit/{estate.record.pk}/")
    _diff_is_legible(page, added=1, removed=1, unchanged=159)
    page.get_by_role("table", name="Changes").scroll_into_view_if_needed()
    page.screenshot(path="/tmp/layout-audit-record.png")
    assert estate.record.outcome == Outcome.APPLIED
    _review(page, estate)
    _diff_is_legible(page, added=1, removed=1, unchanged=159)


def _diff_is_legible(page: Any, added: int, removed: int, unchanged: int) -> None:
    fields = page.get_by_role("table", name="Changes")
    headings = fields.locator("thead th").all_inner_texts()
    assert headings == ["Field", "Before", "After"]
    row = fields.get_by_role("row").filter(has_text="Description")
    assert row.locator(".diff-tag").inner_text() == "changed"
    assert row.locator("td").evaluate_all("cells => cells.map(c => c.cellIndex)") == [1, 2]  # Before, After
    assert row.locator("td.diff-removed-text").evaluate("c => c.cellIndex") == headings.index("Before")
    assert row.locator("td.diff-added-text").evaluate("c => c.cellIndex") == headings.index("After")

    ports = page.get_by_role("table", name=re.compile("^Port mappings: "))
    assert ports.locator("thead th").all_inner_texts() == ["Change", "Client port", "Server port", "Protocol"]
    signs = ports.locator("tbody tr").evaluate_all(
        """rows => rows.map(r => [r.className, r.cells[0].innerText.trim(),
                                  getComputedStyle(r.cells[0], '::before').content,
                                  getComputedStyle(r.cells[1]).backgroundColor])"""
    )
    kinds = {
        "diff-added": ("added", "+"),
        "diff-removed": ("removed", "\u2212"),
        "diff-unchanged": ("unchanged", ""),
    }
    counts = {"diff-added": 0, "diff-removed": 0, "diff-unchanged": 0}
    for kind, word, sign, background in signs:
        counts[kind] += 1
        assert word == kinds[kind][0], (kind, word)
        assert kinds[kind][1] in sign, (kind, sign)  # the sign shows, read out as nothing ("/ ''")
        coloured = kind != "diff-unchanged"
        assert (background not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)")) == coloured, (kind, background)
    assert counts == {"diff-added": added, "diff-removed": removed, "diff-unchanged": unchanged}
    for cell in ("td.diff-removed-text", "td.diff-added-text"):
        background = fields.locator(cell).first.evaluate("c => getComputedStyle(c).backgroundColor")
        assert background != "rgb(255, 255, 255)", cell
