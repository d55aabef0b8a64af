"""Who may read the audit log (viewer, operator, admin) and that nobody can change or delete a
record: not through the pages, not through Django's admin, not through the ORM. (Raw SQL on
PostgreSQL: test_audit_postgresql.py.)"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from tests.auditkit import record
from tests.dashboard import ANONYMOUS, NO_ROLE, client_for
from vpcepadmin import roles
from vpcepadmin.audit.models import SECURITY_ACTIONS, AuditRecord, ImmutableRecord

ANON, NOROLE, VIEWER, OPERATOR, ADMIN = ANONYMOUS, NO_ROLE, roles.VIEWER, roles.OPERATOR, roles.ADMIN
READ = {ANON: 302, NOROLE: 403, VIEWER: 200, OPERATOR: 200, ADMIN: 200}
PAGES = ["/audit/", "/audit/?outcome=applied&q=x", "/audit/{pk}/", "/audit/export.csv", "/audit/export.json"]
WRITES = ["POST", "PUT", "PATCH", "DELETE"]


@pytest.mark.parametrize("template", PAGES)
@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_viewers_operators_and_admins_can_read(people, template, htmx) -> None:
    url = template.format(pk=record().pk)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    for persona, user in people.items():
        response = client_for(user).get(url, **headers)
        if htmx and persona == ANON:
            assert response["HX-Redirect"].startswith("/accounts/login/"), url
            continue
        assert response.status_code == READ[persona], f"{persona} GET {url}: {response.status_code}"


@pytest.mark.parametrize("template", PAGES)
@pytest.mark.parametrize("method", WRITES)
def test_nobody_can_write_through_the_audit_pages(people, template, method) -> None:
    target = record()
    url = template.format(pk=target.pk)
    for persona, user in people.items():
        response = getattr(client_for(user), method.lower())(url, {"reason": "changed"})
        assert response.status_code == (302 if persona == ANON else 405), f"{persona} {method} {url}"
    unchanged = AuditRecord.objects.get(pk=target.pk)
    assert (unchanged.hash, unchanged.reason) == (target.hash, target.reason)
    # Nothing but the sign-ins of the personas was written.
    assert list(AuditRecord.objects.exclude(action__in=SECURITY_ACTIONS)) == [unchanged]


def test_not_even_a_superuser_can_change_or_delete_in_the_admin(db) -> None:
    target = record()
    root = client_for(User.objects.create_superuser("root"))
    base = "/admin/audit/auditrecord/"
    assert root.get(base).status_code == 200
    assert root.get(f"{base}{target.pk}/change/").status_code == 200  # a read-only view
    assert root.post(f"{base}{target.pk}/change/", {"reason": "changed"}).status_code == 403
    assert root.get(f"{base}add/").status_code == 403
    assert root.post(f"{base}{target.pk}/delete/", {"post": "yes"}).status_code == 403
    changelist = root.post(base, {"action": "delete_selected", "_selected_action": [target.pk]})
    assert changelist.status_code in (200, 302)
    assert AuditRecord.objects.filter(pk=target.pk, reason=target.reason).exists()


def test_the_orm_refuses_every_change_and_deletion(db) -> None:
    target = record()
    target.reason = "changed"
    for attempt in (
        target.save,
        target.delete,
        lambda: AuditRecord.objects.filter(pk=target.pk).update(reason="x"),
        lambda: AuditRecord.objects.all().delete(),
    ):
        with pytest.raises(ImmutableRecord):
            attempt()
    assert AuditRecord.objects.get().reason == "CHG-1: routine"
