"""Stored accounts through their pages: create, edit (secrets write-only), delete, test connection."""

from __future__ import annotations

import pytest

from tests import seeds
from vpcepadmin.audit.models import CATEGORIES, Action, AuditRecord
from vpcepadmin.credentials.models import CloudCredential


def _form(simulator_url: str, **overrides: str) -> dict[str, str]:
    data = {
        "name": "Prod EU",
        "environment": "production",
        "colour": "blue",
        "cloud": "otc",
        "region": "eu-de",
        "project_id": seeds.PROJECT_ID,
        "auth_method": "aksk",
        "access_key": seeds.ACCESS_KEY,
        "secret_key": seeds.SECRET_KEY,
        "iam_username": "",
        "domain_name": "",
        "password": "",
        "vpcep_endpoint": simulator_url,
        "iam_endpoint": simulator_url,
    }
    data.update(overrides)
    return data


def test_it_creates_an_account_and_records_it_without_the_secret(admin_client_, simulator) -> None:
    response = admin_client_.post("/credentials/new/", _form(simulator.url))
    credential = CloudCredential.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/credentials/{credential.pk}/"
    assert credential.secret() == seeds.SECRET_KEY
    record = AuditRecord.objects.get(action__in=CATEGORIES["accounts"][1])
    assert record.action == Action.CREATE_CREDENTIAL
    assert record.actor_username == "admin"
    assert seeds.SECRET_KEY not in str(record.after)
    assert seeds.ACCESS_KEY not in str(record.after)
    assert record.after["secret_status"] == "set"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"secret_key": ""}, "secret_key"),
        ({"access_key": ""}, "access_key"),
        ({"project_id": "not-hex"}, "project_id"),
        ({"region": "cn-north-4"}, "region"),
        ({"auth_method": "password"}, "iam_username"),
        ({"vpcep_endpoint": "https://169.254.169.254/"}, "vpcep_endpoint"),
        ({"iam_endpoint": "http://evil.example.com/"}, "iam_endpoint"),
    ],
)
def test_it_refuses_bad_input_and_stores_nothing(admin_client_, simulator, overrides, field) -> None:
    response = admin_client_.post("/credentials/new/", _form(simulator.url, **overrides))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not CloudCredential.objects.exists()
    assert not AuditRecord.objects.filter(action__in=CATEGORIES["accounts"][1]).exists()


def test_the_edit_page_never_renders_a_secret_back(admin_client_, account) -> None:
    page = admin_client_.get(f"/credentials/{account.pk}/edit/").content.decode()
    assert seeds.SECRET_KEY not in page
    assert seeds.ACCESS_KEY not in page
    assert account.secret_encrypted not in page
    assert "AKTE…0001" in page


def test_a_blank_secret_keeps_the_stored_one(admin_client_, account, simulator) -> None:
    version = account.secret_version
    data = _form(simulator.url, name="Renamed", secret_key="", access_key="")
    assert admin_client_.post(f"/credentials/{account.pk}/edit/", data).status_code == 302
    account.refresh_from_db()
    assert (account.name, account.secret(), account.access_key) == (
        "Renamed",
        seeds.SECRET_KEY,
        seeds.ACCESS_KEY,
    )
    assert account.secret_version == version
    record = AuditRecord.objects.get(action=Action.UPDATE_CREDENTIAL)
    assert (record.before["name"], record.after["name"], record.after["secret_status"]) == (
        "Test account",
        "Renamed",
        "unchanged",
    )


def test_a_new_secret_replaces_the_old_and_bumps_the_version(admin_client_, account, simulator) -> None:
    version = account.secret_version
    admin_client_.post(f"/credentials/{account.pk}/edit/", _form(simulator.url, secret_key="new-secret"))
    account.refresh_from_db()
    assert account.secret() == "new-secret"
    assert account.secret_version > version
    assert "new-secret" not in str(AuditRecord.objects.get(action=Action.UPDATE_CREDENTIAL).after)


def test_switching_to_password_requires_the_password(admin_client_, account, simulator) -> None:
    data = _form(simulator.url, auth_method="password", iam_username="u", domain_name="d", secret_key="")
    response = admin_client_.post(f"/credentials/{account.pk}/edit/", data)
    assert "password" in response.context["form"].errors
    account.refresh_from_db()
    assert account.auth_method == "aksk"


def test_it_deletes_after_confirmation_and_keeps_the_audit_history(admin_client_, account) -> None:
    credential_pk = account.pk
    assert admin_client_.get(f"/credentials/{account.pk}/delete/").status_code == 200
    assert CloudCredential.objects.exists()
    assert admin_client_.post(f"/credentials/{account.pk}/delete/").status_code == 302
    assert not CloudCredential.objects.exists()
    record = AuditRecord.objects.get(action=Action.DELETE_CREDENTIAL)
    assert (record.credential_id, record.credential_name) == (credential_pk, "Test account")


def test_test_connection_reports_success_inline_and_records_it(admin_client_, account, simulator) -> None:
    response = admin_client_.post(f"/credentials/{account.pk}/test/", HTTP_HX_REQUEST="true")
    assert "Connected." in response.content.decode()
    account.refresh_from_db()
    assert account.last_success_at is not None
    assert len(simulator.journal(path_contains="/quotas")) == 1


def test_test_connection_reports_the_cloud_error_and_records_it(admin_client_, simulator) -> None:
    from tests.dashboard import make_account

    account = make_account(simulator.url, secret="wrong-secret")
    response = admin_client_.post(f"/credentials/{account.pk}/test/", HTTP_HX_REQUEST="true")
    assert "APIGW.0301" in response.content.decode()
    account.refresh_from_db()
    assert "APIGW.0301" in account.last_error
    assert account.last_error_at is not None


def test_the_list_shows_colour_cloud_region_project_method_and_last_results(viewer_client, account) -> None:
    page = viewer_client.get("/credentials/").content.decode()
    for text in (
        "Test account",
        "env-blue",
        "Open Telekom Cloud",
        "eu-de",
        seeds.PROJECT_ID,
        "AKTE…0001",
        "never",
    ):
        assert text in page


def test_production_is_always_red(viewer_client, simulator) -> None:
    from tests.dashboard import make_account

    account = make_account(simulator.url, environment="production", colour="green")
    assert account.display_colour == "red"
    page = viewer_client.get(f"/credentials/{account.pk}/services/").content.decode()
    assert "env-banner env-red" in page
    assert "PRODUCTION" in page
