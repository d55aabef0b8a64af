"""axe-core in Chromium on every page, for each role that may open it, with form errors shown where a
page has a form and JavaScript on: no serious or critical violation anywhere.

The engine is axe-core as bundled by ``axe-playwright-python`` (pinned in pyproject.toml). It is
evaluated into the page through Playwright (``page.evaluate`` of its source, run by the DevTools
protocol, which a page's content security policy does not govern), so the policy stays exactly as in
production and no setting or template knows about the tests. A failure lists each violation's rule,
impact and the elements it was found on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from tests import connectionkit, mfakit
from tests.connectionkit import PENDING, SERVICE_ID
from tests.dashboard import client_for, make_account, make_user
from tests.editing import Editor
from vpcepadmin import roles
from vpcepadmin.changes.models import ChangeRequest
from vpcepadmin.credentials.models import CloudCredential, Environment

pytestmark = pytest.mark.browser
SERIOUS = ("serious", "critical")
EVERYONE = (roles.VIEWER, roles.OPERATOR, roles.ADMIN)
CHANGERS = (roles.OPERATOR, roles.ADMIN)
ADMINS = (roles.ADMIN,)
ANONYMOUS = ("anonymous",)
AXE = Axe()


def serious_violations(page: Any) -> list[str]:
    """Each serious or critical violation axe finds on the page as it is now: rule (impact): targets."""
    page.wait_for_load_state("networkidle")
    found = AXE.run(page).response["violations"]
    return [
        f"{violation['id']} ({violation['impact']}): "
        + "; ".join(" ".join(str(part) for part in node["target"]) for node in violation["nodes"])
        for violation in found
        if violation["impact"] in SERIOUS
    ]


@dataclass
class World:
    """What the pages show: a staging account on a service with connections and a whitelist, and a
    production account whose changes need a second person; ``user`` is the one whose page is checked."""

    page: Any
    base_url: str
    simulator: Any
    role: str

    @cached_property
    def account(self) -> CloudCredential:
        return make_account(self.simulator.url, name="Staging orders")

    @cached_property
    def guarded(self) -> CloudCredential:
        return make_account(
            self.simulator.url,
            name="Production orders",
            environment=Environment.PRODUCTION,
            requires_approval=True,
        )

    @cached_property
    def user(self) -> User:
        return make_user(self.role)

    def client(self, user: User | None = None) -> Client:
        return client_for(user or self.user)

    def enter(self, client: Client | None = None) -> None:
        """The browser carries the session of ``client`` (by default: ``user``, past the second factor)."""
        session = (client or self.client()).cookies[settings.SESSION_COOKIE_NAME].value
        self.page.context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": self.base_url}]
        )

    def service(self, tail: str = "", account: CloudCredential | None = None) -> str:
        return f"/credentials/{(account or self.account).pk}/services/{SERVICE_ID}/{tail}"

    @cached_property
    def change(self) -> ChangeRequest:
        """A change request on the production account, by another operator."""
        author = make_user(roles.OPERATOR, username="alice")
        editor = Editor(self.client(author), self.guarded.pk, SERVICE_ID)
        editor.load()
        editor.submit("review", description="four eyes")
        response = editor.submit("request", reason="OPS-7 describe it", description="four eyes")
        assert response.status_code == 302, response.content.decode()[:500]
        return ChangeRequest.objects.latest("pk")


def go(page: Any, url: str, status: int = 200) -> None:
    response = page.goto(url)
    assert response is not None and response.status == status, (url, response and response.status)


def button(page: Any, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).click()
    page.wait_for_load_state("networkidle")


# --- how to reach each page, with its errors shown ----------------------------------------------------
def overview(page: Any, world: World) -> None:
    world.account, world.guarded  # noqa: B018 - two account cards
    go(page, "/")


def accounts(page: Any, world: World) -> None:
    world.account  # noqa: B018
    go(page, "/credentials/")


def account_detail(page: Any, world: World) -> None:
    go(page, f"/credentials/{world.account.pk}/")


def account_new(page: Any, world: World) -> None:
    go(page, "/credentials/new/")
    button(page, "Save account")


def account_edit(page: Any, world: World) -> None:
    go(page, f"/credentials/{world.account.pk}/edit/")
    page.locator("#id_name").fill("")
    button(page, "Save account")


def services(page: Any, world: World) -> None:
    go(page, f"/credentials/{world.account.pk}/services/")


def tab(name: str) -> Callable[[Any, World], None]:
    def visit(page: Any, world: World) -> None:
        go(page, world.service(name))

    return visit


def edit_with_errors(page: Any, world: World) -> None:
    go(page, world.service("edit/"))
    page.locator("#id_ports-0-client_port").fill("0")
    page.locator("#id_service_name").fill("no spaces allowed here!")
    button(page, "Review changes")
    page.locator(".is-invalid").first.wait_for()


def _reviewed(page: Any, world: World) -> None:
    go(page, world.service("edit/"))
    page.locator("#id_description").fill("seen by axe")
    button(page, "Review changes")
    page.get_by_role("heading", name="Review your change").wait_for()


def review(page: Any, world: World) -> None:
    _reviewed(page, world)
    button(page, "Apply changes")  # without a reason: the review again, with its error
    page.get_by_role("heading", name="Review your change").wait_for()


def conflict(page: Any, world: World) -> None:
    _reviewed(page, world)
    page.get_by_label("Reason for change").fill("OPS-9 describe it")
    meanwhile = Editor(world.client(make_user(roles.OPERATOR, username="bob")), world.account.pk, SERVICE_ID)
    meanwhile.load()
    meanwhile.apply(description="changed meanwhile")
    button(page, "Apply changes")
    page.get_by_role("heading", name="The service changed while you were editing").wait_for()


def connections_confirm(page: Any, world: World) -> None:
    go(page, world.service("connections/"))
    button(page, f"Accept {PENDING[0]}")
    page.get_by_role("heading", name="Accept 1 connection").wait_for()
    button(page, "Apply changes")  # without a reason


def whitelist_confirm(page: Any, world: World) -> None:
    go(page, world.service("whitelist/"))
    page.get_by_label("Value", exact=True).fill("a" * 32)
    button(page, "Add entry")
    page.get_by_role("heading", name="Add a whitelist entry").wait_for()
    button(page, "Apply changes")  # without a reason


def batch(page: Any, world: World) -> None:
    go(page, world.service("connections/"))
    button(page, f"Accept {PENDING[0]}")
    page.get_by_label("Reason for change").fill("OPS-8 accept the orders client")
    button(page, "Apply changes")
    page.get_by_role("table", name="Outcome of each change").wait_for()


def pending(page: Any, world: World) -> None:
    world.account  # noqa: B018
    go(page, "/connections/pending/")


def pending_account(page: Any, world: World) -> None:
    go(page, f"/connections/pending/{world.account.pk}/")


def approvals(page: Any, world: World) -> None:
    world.change  # noqa: B018
    go(page, "/approvals/")


def approval(page: Any, world: World) -> None:
    go(page, f"/approvals/{world.change.pk}/")
    if world.role != roles.VIEWER:
        button(page, "Reject")  # without the comment a rejection needs


def policies(page: Any, world: World) -> None:
    go(page, "/policies/")


def notifications(page: Any, world: World) -> None:
    world.change  # noqa: B018 - a request is a notification
    go(page, "/notifications/")


def audit_list(page: Any, world: World) -> None:
    world.change  # noqa: B018
    go(page, "/audit/?service=ord&actor=al")


def audit_record(page: Any, world: World) -> None:
    from vpcepadmin.audit.models import AuditRecord

    world.change  # noqa: B018
    go(page, f"/audit/{AuditRecord.objects.latest('pk').pk}/")


def lockouts(page: Any, world: World) -> None:
    for _ in range(settings.LOCKOUT_USER_FAILURES):
        Client().post(
            "/accounts/login/", {"username": "mallory", "password": "wrong"}, REMOTE_ADDR="192.0.2.7"
        )
    go(page, "/lockouts/")


def login(page: Any, world: World) -> None:
    go(page, "/accounts/login/")
    page.get_by_label("User name").fill("nobody")
    page.get_by_label("Password").fill("not the password")
    button(page, "Sign in")


def mfa_enrol(page: Any, world: World) -> None:
    client = Client()
    client.force_login(world.user)  # no second factor yet: the enrolment is owed
    world.enter(client)
    go(page, "/accounts/mfa/enrol/")
    page.get_by_label("Code from the app").fill("000000")
    button(page, "Confirm")


def mfa_recovery_codes(page: Any, world: World) -> None:
    from base64 import b32decode

    client = Client()
    client.force_login(world.user)
    world.enter(client)
    go(page, "/accounts/mfa/enrol/")
    secret = page.locator("#mfa-secret").inner_text()
    key = b32decode(secret + "=" * (-len(secret) % 8))
    page.get_by_label("Code from the app").fill(mfakit.code_at(key, mfakit.next_step(-1)))
    button(page, "Confirm")
    page.get_by_role("heading", name="Your second factor is set up").wait_for()


def mfa_verify(page: Any, world: World) -> None:
    mfakit.give_authenticator(world.user)
    client = Client()
    client.force_login(world.user)
    world.enter(client)
    go(page, "/accounts/mfa/verify/")
    page.get_by_label("Code", exact=True).fill("000000")
    button(page, "Verify")


def mfa_step_up(page: Any, world: World) -> None:
    client = world.client()
    mfakit.age_the_check(client)
    world.enter(client)
    go(page, "/accounts/mfa/step-up/?next=/")
    page.get_by_label("Code", exact=True).fill("000000")
    button(page, "Confirm")


def mfa_reset(page: Any, world: World) -> None:
    other = make_user(roles.OPERATOR, username="carol")
    mfakit.give_authenticator(other)
    go(page, f"/accounts/mfa/reset/{other.pk}/")


def forbidden(page: Any, world: World) -> None:
    go(page, f"/credentials/{world.account.pk}/edit/", status=403)


def not_found(page: Any, world: World) -> None:
    go(page, "/no-such-page/", status=404)


Visit = Callable[[Any, World], None]
# page: (who may open it, how to reach it, whether ``user`` is signed in before)
PAGES: dict[str, tuple[tuple[str, ...], Visit, bool]] = {
    "overview": (EVERYONE, overview, True),
    "accounts": (EVERYONE, accounts, True),
    "account-detail": (EVERYONE, account_detail, True),
    "account-new": (ADMINS, account_new, True),
    "account-edit": (ADMINS, account_edit, True),
    "services": (EVERYONE, services, True),
    "service-details": (EVERYONE, tab("?tab=details"), True),
    "service-ports": (EVERYONE, tab("?tab=ports"), True),
    "service-history": (EVERYONE, tab("?tab=history"), True),
    "service-connections": (EVERYONE, tab("connections/"), True),
    "service-whitelist": (EVERYONE, tab("whitelist/"), True),
    "edit-with-errors": (CHANGERS, edit_with_errors, True),
    "review": (CHANGERS, review, True),
    "conflict": (CHANGERS, conflict, True),
    "connections-confirm": (CHANGERS, connections_confirm, True),
    "whitelist-confirm": (CHANGERS, whitelist_confirm, True),
    "batch-result": (CHANGERS, batch, True),
    "pending": (EVERYONE, pending, True),
    "pending-account": (EVERYONE, pending_account, True),
    "approvals": (EVERYONE, approvals, True),
    "approval": (EVERYONE, approval, True),
    "policies": (EVERYONE, policies, True),
    "notifications": (ADMINS, notifications, True),
    "audit-list": (EVERYONE, audit_list, True),
    "audit-record": (EVERYONE, audit_record, True),
    "lockouts": (ADMINS, lockouts, True),
    "login": (ANONYMOUS, login, False),
    "mfa-enrol": (CHANGERS, mfa_enrol, False),
    "mfa-recovery-codes": (CHANGERS, mfa_recovery_codes, False),
    "mfa-verify": (EVERYONE, mfa_verify, False),
    "mfa-step-up": (CHANGERS, mfa_step_up, False),
    "mfa-reset": (ADMINS, mfa_reset, True),
    "403": ((roles.VIEWER,), forbidden, True),
    "404": (EVERYONE, not_found, True),
}
CASES = [pytest.param(name, role, id=f"{name}-{role}") for name, (who, _, _) in PAGES.items() for role in who]


@pytest.fixture
def axe_page(browser: Any, live_server: Any) -> Iterator[Any]:
    """A JavaScript-on browser page like ``page``'s; an error page's own status is not a console error."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 768})
    context.set_default_timeout(10_000)
    new_page = context.new_page()
    problems: list[str] = []
    new_page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    new_page.on("pageerror", lambda error: problems.append(str(error)))
    new_page.console_problems = problems
    yield new_page
    context.close()
    expected = re.compile(r"Failed to load resource: the server responded with a status of 4(00|03|04|29)")
    assert [p for p in problems if not expected.match(p)] == [], (
        f"console errors or CSP violations: {problems}"
    )


@pytest.mark.parametrize(("name", "role"), CASES)
def test_it_finds_no_serious_or_critical_violation(axe_page, live_server, simulator, name, role) -> None:
    simulator.reset(connectionkit.seed())
    world = World(axe_page, live_server.url, simulator, role)
    _, visit, signed_in = PAGES[name]
    if signed_in:
        world.enter()
    visit(axe_page, world)
    violations = serious_violations(axe_page)
    assert violations == [], f"axe on {name} as {role} ({axe_page.url}):\n" + "\n".join(violations)
