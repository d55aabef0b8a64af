"""Security baseline (reliability.md §8): headers, CSRF, cookies, safe GETs, sessions, deploy checks."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.test import Client

from tests import seeds
from tests.dashboard import client_for
from vpcepadmin.middleware import PERMISSIONS_POLICY

ROOT = Path(__file__).resolve().parent.parent
SECRETS = ("VPCEPADMIN_SECRET_KEY", "VPCEPADMIN_FERNET_KEYS")
# The README's production settings ("Deployment", the block `.ci/run` checks), with throwaway
# secrets of production length. PostgreSQL and Redis: the checks warn on SQLite and a per-process cache.
PROD_ENV = {
    "VPCEPADMIN_SECRET_KEY": "prod-like-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGH",
    "VPCEPADMIN_FERNET_KEYS": "Y2hlY2stb25seS1mZXJuZXQta2V5LTAwMDAwMDAwMDA=",
    "VPCEPADMIN_ALLOWED_HOSTS": "vpcepadmin.example.com",
    "VPCEPADMIN_CSRF_TRUSTED_ORIGINS": "https://vpcepadmin.example.com",
    "VPCEPADMIN_BEHIND_TLS_PROXY": "1",
    "VPCEPADMIN_TRUSTED_PROXY_HEADER": "HTTP_X_FORWARDED_FOR",
    "DATABASE_URL": "postgres://vpcepadmin_app@db.example.com:5432/vpcepadmin",
    "VPCEPADMIN_CACHE_URL": "redis://redis.example.com:6379/0",
}


def documented_production_settings() -> dict[str, str]:
    """The ``# production settings`` block of README.md ("Deployment"): the settings, not the secrets."""
    block = (ROOT / "README.md").read_text().split("# production settings\n", 1)[1].split("```", 1)[0]
    pairs = [line.strip().split("=", 1) for line in block.splitlines() if line.strip()]
    return dict(pairs)


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``manage.py`` with exactly ``env`` as its configuration: nothing from this shell, and a var
    directory of its own, so a developer's ``var/local.env`` (read by manage.py) cannot mix in."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("VPCEPADMIN_", "DATABASE_URL", "DJANGO_"))
    }
    clean["VPCEPADMIN_VAR_DIR"] = tempfile.mkdtemp(prefix="vpcepadmin-manage-")
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_a_production_configuration_passes_the_deploy_checks() -> None:
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **PROD_ENV)
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_checks_exactly_the_production_settings_the_readme_documents() -> None:
    documented = documented_production_settings()
    assert documented == {name: value for name, value in PROD_ENV.items() if name not in SECRETS}
    assert documented["DATABASE_URL"].startswith("postgres://")
    assert documented["VPCEPADMIN_CACHE_URL"].startswith("redis://")


def test_ci_runs_the_deploy_checks_with_the_documented_settings() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert "manage.py check --deploy --fail-level WARNING" in script
    assert "# production settings" in script  # the README block it reads


@pytest.mark.parametrize(
    ("missing", "error"),
    [
        ("VPCEPADMIN_FERNET_KEYS", "vpcepadmin.E003"),
        ("VPCEPADMIN_SECRET_KEY", "VPCEPADMIN_SECRET_KEY is not set"),
    ],
)
def test_an_unsafe_production_configuration_is_refused(missing, error) -> None:
    env = {k: v for k, v in PROD_ENV.items() if k != missing}
    result = _manage("check", "--deploy", **env)
    assert result.returncode != 0
    assert error in result.stderr


def test_a_weak_secret_key_and_a_bad_fernet_key_are_refused() -> None:
    result = _manage(
        "check", **{**PROD_ENV, "VPCEPADMIN_SECRET_KEY": "short", "VPCEPADMIN_FERNET_KEYS": "nope"}
    )
    assert "vpcepadmin.E002" in result.stderr
    assert "vpcepadmin.E004" in result.stderr


def test_several_processes_without_a_shared_cache_get_a_warning() -> None:
    env = {k: v for k, v in PROD_ENV.items() if k != "VPCEPADMIN_CACHE_URL"}
    assert "vpcepadmin.W002" in _manage("check", "--deploy", **env).stderr


def test_every_response_carries_the_security_headers(viewer_client, account, simulator) -> None:
    urls = ["/", "/credentials/", f"/credentials/{account.pk}/services/", "/audit/", "/healthz", "/nowhere/"]
    for url in urls:
        response = viewer_client.get(url)
        csp = response["Content-Security-Policy"]
        for directive in (
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "script-src 'self'",
        ):
            assert directive in csp, url
        assert "unsafe" not in csp
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Frame-Options"] == "DENY"
        assert response["Permissions-Policy"] == PERMISSIONS_POLICY, url
        assert len(response["X-Request-ID"]) == 32
    assert viewer_client.get("/").get("Cache-Control") == "no-store"
    assert viewer_client.get("/static/js/app.js")["Permissions-Policy"] == PERMISSIONS_POLICY


# A feature the app's own scripts use, and the call that would show it (static/js, templates).
FEATURE_CALLS = {
    "camera": "getUserMedia",
    "microphone": "getUserMedia",
    "display-capture": "getDisplayMedia",
    "geolocation": "geolocation",
    "fullscreen": "requestFullscreen",
    "payment": "PaymentRequest",
    "usb": "navigator.usb",
    "serial": "navigator.serial",
    "hid": "navigator.hid",
    "midi": "requestMIDIAccess",
    "clipboard-read": "clipboard.read",
    "publickey-credentials-get": "credentials.get",
    "publickey-credentials-create": "credentials.create",
    "screen-wake-lock": "wakeLock",
    "picture-in-picture": "requestPictureInPicture",
    "sync-xhr": ".open(",  # the app makes no XHR itself; htmx's are asynchronous
}


def test_it_denies_the_browser_features_the_app_does_not_use(client, db) -> None:
    policy = client.get("/accounts/login/")["Permissions-Policy"]
    directives = dict(item.split("=", 1) for item in policy.split(", "))
    assert set(directives.values()) == {"()"}  # denied to every origin, this one included
    for feature in ("camera", "microphone", "geolocation", "payment", "usb", "fullscreen", "sync-xhr"):
        assert directives[feature] == "()", feature
    assert {"browsing-topics", "interest-cohort"} <= directives.keys()
    assert "clipboard-write" not in directives  # the copy buttons write to the clipboard
    scripts = [
        p.read_text() for p in [*(ROOT / "static").rglob("*.js"), *(ROOT / "templates").rglob("*.html")]
    ]
    for feature, call in FEATURE_CALLS.items():
        assert feature in directives, feature
        assert not any(call in text for text in scripts), f"the app uses {feature} ({call})"


def test_state_changing_posts_need_a_csrf_token(admin_user, account) -> None:
    client = client_for(admin_user, Client(enforce_csrf_checks=True))
    for url in (
        f"/credentials/{account.pk}/test/",
        f"/credentials/{account.pk}/delete/",
        "/accounts/logout/",
    ):
        assert client.post(url).status_code == 403, url
    client.get("/credentials/")
    token = client.cookies["csrftoken"].value
    assert client.post(f"/credentials/{account.pk}/test/", HTTP_X_CSRFTOKEN=token).status_code == 302


def test_browsing_every_page_as_admin_sends_no_change_to_the_cloud(admin_client_, account, simulator) -> None:
    service_id = simulator.seed["endpoint_services"][0]["id"]
    base = f"/credentials/{account.pk}"
    for url in [
        "/",
        "/credentials/",
        f"{base}/",
        f"{base}/edit/",
        f"{base}/delete/",
        f"{base}/services/",
        f"{base}/services/summary/",
        f"{base}/services/{service_id}/",
        f"{base}/services/{service_id}/edit/",
        "/audit/",
    ]:
        assert admin_client_.get(url).status_code == 200, url
    assert {entry["method"] for entry in simulator.journal()} == {"GET"}


def test_the_session_ends_after_30_idle_minutes(viewer, settings, monkeypatch) -> None:
    client = client_for(viewer)
    assert client.get("/credentials/").status_code == 200
    later = time.time() + settings.SESSION_IDLE_TIMEOUT + 60
    monkeypatch.setattr(time, "time", lambda: later)
    response = client.get("/credentials/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_session_ends_12_hours_after_sign_in_however_busy(viewer, settings, monkeypatch) -> None:
    client = client_for(viewer)
    start = time.time()
    for minutes in range(0, 12 * 60 + 1, 20):  # a request every 20 minutes, never idle
        monkeypatch.setattr(time, "time", lambda m=minutes: start + m * 60)
        assert client.get("/credentials/").status_code == 200, minutes
    monkeypatch.setattr(time, "time", lambda: start + 12 * 3600 + 120)
    assert client.get("/credentials/").status_code == 302


def test_signing_in_rotates_the_session_and_signing_out_ends_it(viewer, db) -> None:
    viewer.set_password("a-long-enough-password-123")
    viewer.save()
    client = Client()
    client.get("/accounts/login/")
    before = client.cookies.get("sessionid")
    client.post("/accounts/login/", {"username": "viewer", "password": "a-long-enough-password-123"})
    after = client.cookies["sessionid"].value
    assert before is None or before.value != after
    assert client.get("/credentials/").status_code == 200
    client.post("/accounts/logout/")
    replay = Client()
    replay.cookies["sessionid"] = after
    assert replay.get("/credentials/").status_code == 302


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(viewer, db) -> None:
    viewer.set_password("a-long-enough-password-123")
    viewer.save()
    wrong = Client().post("/accounts/login/", {"username": "viewer", "password": "nope"})
    unknown = Client().post("/accounts/login/", {"username": "nobody", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 200
    assert wrong.context["form"].errors == unknown.context["form"].errors


def test_healthz_needs_no_sign_in_and_calls_no_cloud(client, simulator, db) -> None:
    response = client.get("/healthz")
    assert response.json() == {"status": "ok", "database": "ok"}
    assert simulator.journal() == []


def test_templates_have_no_unescaped_output_or_inline_scripts() -> None:
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        for forbidden in ("|safe", "mark_safe", "autoescape off", "hx-on", "js:", "<script>", 'style="'):
            assert forbidden not in text, f"{path}: {forbidden}"


XSS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "';alert(1);//", "{{7*7}}<b>"]


def test_cloud_data_is_escaped_on_every_page(operator_client, account, simulator) -> None:
    """T12: what the cloud returns is data, never markup (the seed bypasses the API's own rules)."""
    seed = seeds.standard_seed(services=0)
    # Every value the table rows, the port rows and the selects build in Python (endpoints/rows.py,
    # endpoints/port_rows.py) carries markup too.
    seed["endpoint_services"] = [
        seeds.service(
            description=" ".join(XSS),
            tags=[{"key": "k", "value": XSS[1]}],
            service_name=f"{seeds.REGION}.{XSS[1]}.x",
            server_type=XSS[0],
            ports=[{"client_port": 443, "server_port": 8443, "protocol": XSS[1]}],
        )
    ]
    simulator.reset(seed)
    service_id = seed["endpoint_services"][0]["id"]
    base = f"/credentials/{account.pk}/services/"
    pages = [
        operator_client.get(url).content.decode()
        for url in (base, f"{base}{service_id}/", f"{base}{service_id}/edit/", f"{base}summary/")
    ]
    for page in pages:
        for payload in XSS[:2]:
            assert payload not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[1]
    shown = "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"
    assert shown in pages[0] and shown in pages[2]  # the name in the table, the protocol in the rows
