"""T06: every URL × {anonymous, no role, viewer, operator, admin} × {plain, htmx} against a table."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from tests.dashboard import ANONYMOUS, NO_ROLE, client_for
from vpcepadmin import roles
from vpcepadmin.audit.recorder import Context
from vpcepadmin.credentials.services import snapshot, update_credential

ANON, NOROLE, VIEWER, OPERATOR, ADMIN = ANONYMOUS, NO_ROLE, roles.VIEWER, roles.OPERATOR, roles.ADMIN
READ = {ANON: 302, NOROLE: 403, VIEWER: 200, OPERATOR: 200, ADMIN: 200}
MODIFY = {ANON: 302, NOROLE: 403, VIEWER: 403, OPERATOR: 200, ADMIN: 200}
MANAGE = {ANON: 302, NOROLE: 403, VIEWER: 403, OPERATOR: 403, ADMIN: 200}
PUBLIC = dict.fromkeys((ANON, NOROLE, VIEWER, OPERATOR, ADMIN), 200)

# (method, url template, expected status per persona)
MATRIX = [
    ("GET", "/", READ),
    ("GET", "/credentials/", READ),
    ("GET", "/credentials/new/", MANAGE),
    ("GET", "/credentials/{pk}/", READ),
    ("GET", "/credentials/{pk}/edit/", MANAGE),
    ("GET", "/credentials/{pk}/delete/", MANAGE),
    ("POST", "/credentials/{pk}/test/", {**MANAGE, ADMIN: 302}),
    ("GET", "/credentials/{pk}/services/", READ),
    ("GET", "/credentials/{pk}/services/?q=test&status=available&sort=-updated&page=1", READ),
    ("GET", "/credentials/{pk}/services/summary/", READ),
    ("GET", "/credentials/{pk}/services/{service}/", READ),
    ("GET", "/credentials/{pk}/services/{service}/?tab=history", READ),
    ("GET", "/credentials/{pk}/services/{service}/edit/", MODIFY),
    ("POST", "/credentials/{pk}/services/{service}/edit/", {**MODIFY, OPERATOR: 302, ADMIN: 302}),
    ("GET", "/audit/", READ),
    ("GET", "/audit/{record}/", READ),
    ("GET", "/lockouts/", MANAGE),
    ("GET", "/approvals/", READ),
    ("GET", "/policies/", {**READ, NOROLE: 200}),  # the rules in force: for everyone signed in
    ("POST", "/policies/production/forbidden_ports/", {**MANAGE, ADMIN: 400}),  # empty: a field error
    ("GET", "/notifications/", MANAGE),
    ("POST", "/lockouts/unlock/", {**MANAGE, ADMIN: 302}),
    ("GET", "/healthz", PUBLIC),
]
# Where an htmx request gets another answer than a plain one.
HTMX_EXPECTED = {"/credentials/{pk}/test/": {ADMIN: 200}}


@pytest.fixture
def targets(account, simulator) -> dict[str, object]:
    update_credential(account, snapshot(account), "", False, Context())
    from vpcepadmin.audit.models import AuditRecord

    return {
        "pk": account.pk,
        "service": simulator.seed["endpoint_services"][0]["id"],
        "record": AuditRecord.objects.get(action="update_credential").pk,
    }


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize(("method", "template", "expected"), MATRIX, ids=[f"{m} {t}" for m, t, _ in MATRIX])
def test_it_answers_every_persona_as_the_table_says(
    people, targets, method, template, expected, htmx
) -> None:
    url = template.format(**targets)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    for persona, user in people.items():
        response = getattr(client_for(user), method.lower())(url, **headers)
        want = (HTMX_EXPECTED.get(template, {}) if htmx else {}).get(persona, expected[persona])
        if htmx and persona == ANON and want == 302:
            assert response.status_code == 200, url
            assert response["HX-Redirect"].startswith("/accounts/login/"), url
            continue
        assert response.status_code == want, f"{persona} {method} {url} (htmx={htmx}): {response.status_code}"


def test_anonymous_gets_the_sign_in_page_with_next(people, targets) -> None:
    response = client_for(None).get(f"/credentials/{targets['pk']}/services/")
    assert response["Location"] == f"/accounts/login/?next=/credentials/{targets['pk']}/services/"


def test_the_ui_hides_what_a_viewer_may_not_do(people, targets) -> None:
    viewer = client_for(people[VIEWER])
    assert "Add account" not in viewer.get("/credentials/").content.decode()
    page = viewer.get(f"/credentials/{targets['pk']}/services/{targets['service']}/").content.decode()
    assert ">Edit<" not in page
    operator_page = client_for(people[OPERATOR]).get(
        f"/credentials/{targets['pk']}/services/{targets['service']}/"
    )
    assert ">Edit<" in operator_page.content.decode()


def test_no_user_exists_after_migrations(db) -> None:
    assert not User.objects.exists()
