"""T23: secrets never appear in a page, a log line, an audit record or an error report."""

from __future__ import annotations

import logging

import pytest
from django.conf import settings
from django.test import override_settings
from django.views.debug import ExceptionReporter

from tests import seeds
from tests.test_credentials_pages import _form
from vpcepadmin.audit.models import AuditRecord
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.error_reports import SecretHidingReporterFilter

SECRETS = (seeds.SECRET_KEY, seeds.PASSWORD)


def _assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_a_full_round_trip_logs_no_secret(admin_client_, simulator, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    admin_client_.post("/credentials/new/", _form(simulator.url))
    token_form = _form(
        simulator.url,
        name="Token",
        auth_method="password",
        access_key="",
        secret_key="",
        iam_username=seeds.USERNAME,
        domain_name=seeds.DOMAIN_NAME,
        password=seeds.PASSWORD,
    )
    admin_client_.post("/credentials/new/", token_form)
    for credential in CloudCredential.objects.all():
        admin_client_.post(f"/credentials/{credential.pk}/test/")
        admin_client_.get(f"/credentials/{credential.pk}/services/")
        admin_client_.get(f"/credentials/{credential.pk}/edit/")
    pages = "".join(
        admin_client_.get(url).content.decode()
        for url in [
            "/credentials/",
            *[f"/credentials/{c.pk}/" for c in CloudCredential.objects.all()],
            "/audit/",
        ]
    )
    assert len(caplog.records) > 5
    _assert_clean("\n".join(f"{r.getMessage()} {r.args}" for r in caplog.records))
    _assert_clean(pages)
    _assert_clean(str(list(AuditRecord.objects.values())))
    assert simulator.journal(path_contains="/v3/auth/tokens")  # the token path was exercised


def test_an_error_report_hides_posted_secrets(admin_client_, simulator, rf) -> None:
    request = rf.post("/credentials/new/", _form(simulator.url, password=seeds.PASSWORD))
    from vpcepadmin.credentials.views import credential_create

    # sensitive_post_parameters marks the request; the error reporter then masks those fields.
    request.user = admin_client_.session  # any object: the view fails before using it
    try:
        credential_create(request)
    except Exception:  # the report of whatever happened is what we inspect
        import sys

        report = ExceptionReporter(request, *sys.exc_info()).get_traceback_text()
    else:
        raise AssertionError("expected the view to fail on a fake user")
    assert "secret_key" in report  # the POST section is there, with the secret fields masked
    assert "********************" in report
    _assert_clean(report)


ANCHOR_KEY = "test-only-anchor-key-never-shown-0123456789"
BROKEN_FERNET_KEY = "not-a-fernet-key-but-a-secret-all-the-same"
DATABASE_PASSWORD = "database-password-0042"
DATABASE_URL = f"postgres://vpcepadmin:{DATABASE_PASSWORD}@db.internal:5432/vpcepadmin"


def _token_form(url: str) -> dict[str, str]:
    return _form(
        url,
        auth_method="password",
        access_key="",
        secret_key="",
        iam_username=seeds.USERNAME,
        domain_name=seeds.DOMAIN_NAME,
        password=seeds.PASSWORD,
    )


@pytest.mark.parametrize("accept", ["text/html", "text/plain"])
@pytest.mark.parametrize("form", [_form, _token_form], ids=["access key", "password"])
def test_it_shows_no_posted_secret_on_a_debug_error_page(admin_client_, simulator, accept, form) -> None:
    """VPCEPADMIN_DEBUG=1 and no Fernet key: the technical 500 page lists the frame whose
    ``plaintext`` is the secret being encrypted, and the POST data — all of it masked."""
    admin_client_.raise_request_exception = False
    with override_settings(DEBUG=True, FERNET_KEYS=[]):
        response = admin_client_.post("/credentials/new/", form(simulator.url), HTTP_ACCEPT=accept)
    page = response.content.decode()
    assert response.status_code == 500
    assert "NoEncryptionKey" in page and "plaintext" in page  # Django's debug page, with the frames
    assert "********************" in page
    _assert_clean(page)
    assert seeds.ACCESS_KEY not in page


@pytest.mark.parametrize("accept", ["text/html", "text/plain"])
def test_it_shows_no_configured_secret_on_a_debug_error_page(admin_client_, simulator, accept) -> None:
    """A key that is not a Fernet key makes the encryption fail; neither it, the other secret
    settings nor a password in the environment (``runserver`` puts it in ``META``) is shown."""
    admin_client_.raise_request_exception = False
    broken = {"DEBUG": True, "FERNET_KEYS": [BROKEN_FERNET_KEY], "AUDIT_ANCHOR_KEY": ANCHOR_KEY}
    with override_settings(**broken):
        response = admin_client_.post(
            "/credentials/new/",
            _form(simulator.url),
            HTTP_ACCEPT=accept,
            DATABASE_URL=DATABASE_URL,
            VPCEPADMIN_AUDIT_ANCHOR_KEY=ANCHOR_KEY,
            VPCEPADMIN_SECRET_KEY=settings.SECRET_KEY,
        )
    page = response.content.decode()
    assert response.status_code == 500
    assert "Fernet key must be 32 url-safe base64-encoded bytes" in page
    assert "DATABASE_URL" in page and "db.internal" in page  # the environment is there, masked
    for secret in (BROKEN_FERNET_KEY, ANCHOR_KEY, settings.SECRET_KEY, DATABASE_PASSWORD):
        assert secret not in page
    _assert_clean(page)


def test_it_hides_secret_fields_even_where_a_view_forgot_to_mark_them(rf) -> None:
    request = rf.post(
        "/anywhere/",
        {"password": seeds.PASSWORD, "secret_key": seeds.SECRET_KEY, "access_key": "AK1", "name": "kept"},
    )
    reporter = SecretHidingReporterFilter()
    shown = reporter.get_post_parameters(request)
    assert shown["name"] == "kept"
    assert {shown[name] for name in ("password", "secret_key", "access_key")} == {"********************"}
    assert reporter.is_active(request)


def test_it_hides_a_local_variable_holding_a_posted_secret_whatever_its_name(rf) -> None:
    request = rf.post("/anywhere/", {"password": seeds.PASSWORD})

    def fails(typed: str, options: dict[str, str]) -> None:
        raise ValueError("cannot sign in")

    try:
        fails(seeds.PASSWORD, {"password": seeds.FOREIGN_PASSWORD, "url": DATABASE_URL})
    except ValueError:
        import sys

        report = ExceptionReporter(request, *sys.exc_info()).get_traceback_html()
    assert "typed" in report and "options" in report and "db.internal" in report  # the frame's locals
    for secret in (seeds.PASSWORD, seeds.FOREIGN_PASSWORD, DATABASE_PASSWORD):
        assert secret not in report
