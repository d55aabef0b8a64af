"""In a real browser: errors are never out of sight (a summary at the top, linking to the fields,
with the focus), every submit shows progress at once and cannot be sent twice, and "Remove" from the
keyboard leaves the focus on the next row (issue 15, findings 1, 3 and 4)."""

from __future__ import annotations

import pytest

from tests import seeds
from tests.browser import sign_in
from tests.dashboard import make_user

pytestmark = pytest.mark.browser
PASSWORD = "correct-horse-browser-staple"
MAPPINGS = 160
SLOW_PUT = 5  # seconds of PUT latency: long enough to look at the page while it waits
SLOW_GET = 6  # seconds of GET latency behind a link


@pytest.fixture
def big_service(simulator) -> dict:
    """A service with 160 port mappings."""
    ports = [{"client_port": 1000 + n, "server_port": 2000 + n, "protocol": "TCP"} for n in range(MAPPINGS)]
    seed = seeds.standard_seed(services=0, endpoint_services=[seeds.service(service_name="big", ports=ports)])
    simulator.reset(seed)
    return seed["endpoint_services"][0]


def _edit(page, account, service) -> None:
    make_user("operator", password=PASSWORD)
    sign_in(page, "operator", PASSWORD)
    page.goto(f"/credentials/{account.pk}/services/{service['id']}/edit/")
    page.get_by_role("heading", name="Edit endpoint service").wait_for()


def test_an_error_on_row_150_is_summarised_at_the_top_with_the_focus_and_a_link(
    page, account, simulator, big_service
) -> None:
    _edit(page, account, big_service)
    page.locator("#id_ports-149-client_port").fill("1000")  # row 1's client port again
    page.get_by_role("button", name="Review changes").last.click()
    summary = page.locator("#error-summary")
    summary.wait_for()
    assert page.evaluate("document.activeElement.id") == "error-summary"
    box = summary.bounding_box()
    assert box is not None and box["y"] < page.viewport_size["height"]  # in sight, not 6 700 px down
    text = summary.inner_text()
    assert "1 problem — nothing was sent" in text
    assert "Port mapping 150 — Client port — Row 1 already maps client port 1000/TCP." in text
    link = summary.get_by_role("link")
    assert link.get_attribute("href") == "#id_ports-149-client_port"
    # The row keeps its own error, named by the field.
    field = page.locator("#id_ports-149-client_port")
    assert field.get_attribute("aria-invalid") == "true"
    described = field.get_attribute("aria-describedby") or ""
    assert "Row 1 already maps" in page.locator(f"#{described.split()[0]}").inner_text()
    link.click()
    assert page.evaluate("location.hash") == "#id_ports-149-client_port"
    assert simulator.journal(method="PUT") == []


def test_apply_shows_progress_at_once_and_a_second_click_sends_nothing_more(
    page, account, simulator, big_service
) -> None:
    _edit(page, account, big_service)
    page.locator("#id_description").fill("slow cloud")
    page.get_by_role("button", name="Review changes").last.click()
    page.get_by_role("heading", name="Review your change").wait_for()
    page.get_by_label("Reason for change").fill("OPS-15")
    simulator.add_fault(action="latency", seconds=SLOW_PUT, match={"method": "PUT"}, count=1)
    said = _watch_progress(page)
    # A click, then the same form sent again (a double click, Enter) while the first is on its way.
    page.evaluate(
        """() => {
          const apply = [...document.querySelectorAll("button")].find((b) => b.textContent.trim() === "Apply changes");
          apply.click();
          setTimeout(() => { apply.click(); apply.form.requestSubmit(); }, 100);
        }"""
    )
    page.get_by_text("Change applied.").wait_for(timeout=(SLOW_PUT + 10) * 1000)
    # At once — shown by the click itself, not by the answer 5 s later — and the buttons disabled.
    assert "Sending…" in said[0] and int(said[0].split()[2]) < 1000, said
    disabled = next(line for line in said if line.endswith("disabled"))
    assert int(disabled.split()[2]) < 1000, said
    assert any("Still waiting for the cloud (" in line for line in said), said
    assert len(simulator.journal(method="PUT")) == 1


def test_remove_from_the_keyboard_leaves_the_focus_on_the_next_row(page, account, simulator) -> None:
    service = simulator.seed["endpoint_services"][0]
    _edit(page, account, service)
    for _ in range(2):
        rows = page.locator("tr.port-row").count()
        page.get_by_role("button", name="Add port mapping").click()
        page.locator(f"#id_ports-{rows}-client_port").wait_for()
    page.get_by_role("button", name="Remove row 2").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('tr.port-row').length === 2")
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.id === 'id_ports-1-client_port'"
    )
    # The last row removed: the focus goes to the row before it.
    page.get_by_role("button", name="Remove row 2").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('tr.port-row').length === 1")
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.id === 'id_ports-0-client_port'"
    )


def test_a_page_slow_to_come_says_what_it_waits_for(page, account, simulator) -> None:
    """With 5 s of GET latency, following a link to the service list shows progress within a second,
    then how long it has waited."""
    make_user("operator", password=PASSWORD)
    sign_in(page, "operator", PASSWORD)
    page.goto(f"/credentials/{account.pk}/")
    simulator.add_fault(
        action="latency", seconds=SLOW_GET, match={"method": "GET", "path": "vpc-endpoint-services"}, count=1
    )
    said = _watch_progress(page)
    page.locator(f"a[href='/credentials/{account.pk}/services/']").first.click(no_wait_after=True)
    page.wait_for_url(f"**/credentials/{account.pk}/services/", timeout=(SLOW_GET + 10) * 1000)
    page.get_by_role("heading", name="Endpoint services").wait_for()
    assert said and "Loading…" in said[0] and int(said[0].split()[2]) < 1500, said
    assert any("Still waiting for the cloud (" in line for line in said), said


def _watch_progress(page) -> list[str]:
    """What the page says of its progress while the next page is on its way, as the browser logs it
    (the page itself cannot be asked: the navigation is under way). Each line: "progress after
    <ms> ms: <text> [disabled]"."""
    said: list[str] = []
    page.on(
        "console", lambda message: said.append(message.text) if message.text.startswith("progress") else None
    )
    page.evaluate(
        """() => {
          addEventListener("click", () => { window.clickedAt = performance.now(); }, true);
          const tell = () => {
            const el = document.querySelector("[data-progress], #page-progress");
            if (!el || window.clickedAt === undefined) { return; }
            const busy = document.querySelector("form[data-sending] button:disabled") ? " disabled" : "";
            const after = Math.round(performance.now() - window.clickedAt);
            const text = `progress after ${after} ms: ${el.textContent.trim()}${busy}`;
            if (text.replace(/after \\d+ ms/, "") !== window.lastSaid) { console.log(text); }
            window.lastSaid = text.replace(/after \\d+ ms/, "");
          };
          const all = {subtree: true, childList: true, characterData: true, attributes: true};
          new MutationObserver(tell).observe(document.body, all);
        }"""
    )
    return said
