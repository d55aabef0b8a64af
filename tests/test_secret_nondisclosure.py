"""T23: secrets never appear in a page, a log line, an audit record or an error report."""

from __future__ import annotations

import logging

from django.views.debug import ExceptionReporter

from tests import seeds
from tests.test_credentials_pages import _form
from vpcepadmin.audit.models import AuditRecord
from vpcepadmin.credentials.models import CloudCredential

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
