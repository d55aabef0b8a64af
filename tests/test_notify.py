"""Notifications (issue 14 §3): each event reaches a local webhook receiver and Django's test mailbox
exactly once, after its change committed; a failing or hanging receiver delays no page and loses no
change; nothing is sent for a rolled-back change, nor twice by ``send_notifications``; and without a
destination nothing is written at all. Changes are made against the simulator over real HTTP."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import F
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests import seeds
from tests.dashboard import client_for, make_account, make_user
from tests.editing import Editor
from tests.mfakit import verify_session
from vpcepadmin.audit import recorder, security
from vpcepadmin.audit.events import record_appended
from vpcepadmin.audit.models import Action, AuditRecord, Outcome, TargetType
from vpcepadmin.audit.verification import verify_chain
from vpcepadmin.changes.models import ChangeRequest
from vpcepadmin.changes.observation import observe_account
from vpcepadmin.endpoints import approvals
from vpcepadmin.notify import delivery, messages, outbox
from vpcepadmin.notify.models import Notification, Status

SECRET_PATH = "/services/T0000/B0000/notify-test-secret-path"
PUBLIC = "https://vpcepadmin.example.com"
RECIPIENT = "ops@example.com"
PASSWORD = "a-long-password-for-the-tests-1"
SETTLE_SECONDS = 30


# --- a local webhook receiver ---------------------------------------------------------------------------
@dataclass
class Receiver:
    """A webhook endpoint on 127.0.0.1: what it received, what it answers, whether it hangs."""

    url: str = ""
    bodies: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    status: int = 200
    gate: threading.Event | None = None  # set: answer; unset: hang until it is set
    arrived: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def subjects(self) -> list[str]:
        return sorted(body["summary"] for body in self.bodies)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        receiver = self.server.receiver
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with receiver.lock:
            receiver.bodies.append(body)
            receiver.paths.append(self.path)
        receiver.arrived.set()
        if receiver.gate is not None:
            receiver.gate.wait(SETTLE_SECONDS)
        self.send_response(receiver.status)
        answer = b"ok" if receiver.status < 400 else b"no_service"
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.receiver = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}{SECRET_PATH}")
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    yield server.receiver
    if server.receiver.gate is not None:
        server.receiver.gate.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def notifying(settings: Any, receiver: Receiver, mailoutbox: list[Any]) -> Receiver:
    """The deployment sends to the test's receiver and to one e-mail recipient."""
    settings.NOTIFY_WEBHOOK_URLS = [receiver.url]
    settings.NOTIFY_EMAILS = [RECIPIENT]
    settings.NOTIFY_BACKOFF = 0.01
    settings.PUBLIC_URL = PUBLIC
    return receiver


@pytest.fixture(autouse=True)
def _deliveries_end_within_the_test() -> Iterator[None]:
    yield
    assert delivery.wait(SETTLE_SECONDS)


def settle() -> None:
    """Every delivery submitted so far has ended."""
    assert delivery.wait(SETTLE_SECONDS), "deliveries still running"


def mail_subjects(mailoutbox: list[Any]) -> list[str]:
    return sorted(message.subject.removeprefix("[vpcepadmin] ") for message in mailoutbox)


# --- the flows that make events -------------------------------------------------------------------------
def operator(username: str) -> Client:
    user = make_user("operator", username=username)
    client = client_for(user)
    verify_session(client, user)
    return client


def service_of(simulator: Any) -> tuple[str, str]:
    service = simulator.seed["endpoint_services"][0]
    return service["id"], service["service_name"]


def request_change(client: Client, account: Any, service_id: str, description: str) -> ChangeRequest:
    editor = Editor(client, account.pk, service_id)
    editor.load()
    editor.submit("review", description=description)
    response = editor.submit("request", reason="OPS-7 rotate", description=description)
    assert response.status_code == 302, response.content.decode()[:500]
    return ChangeRequest.objects.latest("pk")


def decide(client: Client, change: ChangeRequest, action: str) -> None:
    response = client.post(f"/approvals/{change.pk}/decide/", {"action": action, "reason": "checked"})
    assert response.status_code == 302


def apply_change(client: Client, account: Any, service_id: str, description: str) -> Any:
    editor = Editor(client, account.pk, service_id)
    editor.load()
    return editor.apply(reason="OPS-9", description=description)


def sign_in(username: str, password: str) -> int:
    response = Client().post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR="198.51.100.7"
    )
    return response.status_code


def lock_out(settings: Any, username: str = "alice") -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    make_user("viewer", username=username, password=PASSWORD)
    assert [sign_in(username, "wrong password") for _ in range(settings.LOCKOUT_USER_FAILURES)][-1] == 429


def production(simulator: Any, **fields: Any) -> Any:
    return make_account(simulator.url, name="Prod orders", environment="production", **fields)


# --- each event, exactly once ---------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_it_tells_of_a_request_its_approval_and_the_applied_change_once_each(
    notifying, mailoutbox, simulator
) -> None:
    account = production(simulator, requires_approval=True)
    service_id, name = service_of(simulator)
    alice, bob = operator("alice"), operator("bob")
    change = request_change(alice, account, service_id, "four eyes")
    decide(bob, change, "approve")
    settle()
    applied = AuditRecord.objects.get(action=Action.MODIFY_ENDPOINT_SERVICE, outcome=Outcome.APPLIED)
    expected = sorted(
        [
            f"[production] Change request #{change.pk} waiting for approval: {name} (alice)",
            f"[production] Change request #{change.pk} approved by bob: {name}",
            f"[production] Modify endpoint service applied: {name} (bob)",
        ]
    )
    assert notifying.subjects() == expected
    assert mail_subjects(mailoutbox) == expected
    assert all(message.to == [RECIPIENT] for message in mailoutbox)
    by_subject = {body["summary"]: body for body in notifying.bodies}
    waiting = by_subject[expected[1]]
    assert waiting["@type"] == "MessageCard" and waiting["text"].startswith(expected[1])
    assert waiting["potentialAction"][0]["targets"][0]["uri"] == f"{PUBLIC}/approvals/{change.pk}/"
    assert "Account: Prod orders (production, otc, eu-de)" in waiting["text"]
    assert "Reason: OPS-7 rotate" in waiting["text"]
    done = by_subject[expected[2]]["text"]
    assert f"{PUBLIC}/audit/{applied.pk}/" in done and f"Audit record #{applied.seq}" in done
    assert "Outcome: Applied" in done
    rows = Notification.objects.all()
    assert [(row.status, row.attempts) for row in rows] == [(Status.DELIVERED, 1)] * 6
    for text in [*(body["text"] for body in notifying.bodies), *(row.text for row in rows)]:
        assert seeds.SECRET_KEY not in text and SECRET_PATH not in text


@pytest.mark.django_db(transaction=True)
def test_it_tells_of_rejected_and_expired_requests_on_any_account(
    notifying, mailoutbox, simulator, settings
) -> None:
    account = make_account(simulator.url, name="Staging orders", requires_approval=True)
    service_id, name = service_of(simulator)
    alice, bob = operator("alice"), operator("bob")
    rejected = request_change(alice, account, service_id, "first")
    decide(bob, rejected, "reject")
    expired = request_change(alice, account, service_id, "second")
    ChangeRequest.objects.filter(pk=expired.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.APPROVAL_MAX_AGE + 5)
    )
    assert approvals.expire_old() == 1
    settle()
    steps = [
        f"[staging] Change request #{rejected.pk} rejected by bob: {name}",
        f"[staging] Change request #{expired.pk} expired: {name}",
    ]
    for subjects in (notifying.subjects(), mail_subjects(mailoutbox)):
        assert [subject for subject in subjects if "waiting" not in subject] == sorted(steps)
        assert len(subjects) == 4  # and the two requests waiting


@pytest.mark.django_db(transaction=True)
def test_it_tells_of_applied_and_failed_changes_on_production_only(notifying, mailoutbox, simulator) -> None:
    account = make_account(simulator.url, name="Orders")
    service_id, name = service_of(simulator)
    olga = operator("olga")
    assert apply_change(olga, account, service_id, "on staging").status_code == 302
    settle()
    assert notifying.bodies == [] and mailoutbox == []  # a staging account's changes tell nobody
    account.environment = "production"
    account.save()
    assert apply_change(olga, account, service_id, "applied").status_code == 302
    simulator.add_fault(
        match={"method": "PUT"}, action="status", status=400, error_code="EndPoint.3076", count=1
    )
    assert apply_change(olga, account, service_id, "refused").status_code == 200
    settle()
    expected = sorted(
        [
            f"[production] Modify endpoint service applied: {name} (olga)",
            f"[production] Modify endpoint service not applied (rejected): {name} (olga)",
        ]
    )
    assert notifying.subjects() == expected and mail_subjects(mailoutbox) == expected
    failed = next(body["text"] for body in notifying.bodies if "rejected" in body["summary"])
    assert "Outcome: Rejected" in failed and "Error: EndPoint.3076" in failed


@pytest.mark.django_db(transaction=True)
def test_it_tells_of_a_change_left_without_an_outcome(notifying, mailoutbox, simulator, settings) -> None:
    settings.CLOUD_READ_TIMEOUT = 1.0
    account = production(simulator)
    service_id, name = service_of(simulator)
    olga = operator("olga")
    editor = Editor(olga, account.pk, service_id)
    editor.load()
    editor.submit("review", description="maybe")
    simulator.add_fault(match={"method": "PUT"}, action="reset_after", count=1)
    simulator.add_fault(
        match={"method": "GET", "path": "vpc-endpoint-services/"},
        action="status",
        status=500,
        skip=1,
        count=10,
    )
    response = editor.submit("apply", reason="r", description="maybe")
    assert "stays open" in response.content.decode()
    settle()
    subject = f"[production] Modify endpoint service outcome unknown (no answer, the change stays open): {name} (olga)"
    assert notifying.subjects() == [subject] and mail_subjects(mailoutbox) == [subject]
    attempt = AuditRecord.objects.get(action=Action.MODIFY_ENDPOINT_SERVICE)
    assert Notification.objects.filter(event=f"unknown:{attempt.seq}").count() == 2


@pytest.mark.django_db(transaction=True)
def test_it_tells_of_an_outside_change_but_not_of_the_baseline(
    notifying, mailoutbox, simulator, raw_api
) -> None:
    account = make_account(simulator.url)
    observe_account(account)
    settle()
    assert notifying.bodies == [] and mailoutbox == []
    service_id, _ = service_of(simulator)
    raw_api.put(seeds.service_path(service_id), {"service_name": "renamed"})
    call_command("observe_cloud", stdout=io.StringIO())
    settle()
    subject = "[staging] Observed change outside vpcepadmin: renamed"
    assert notifying.subjects() == [subject] and mail_subjects(mailoutbox) == [subject]
    assert "By: outside vpcepadmin" in notifying.bodies[0]["text"]
    assert "Change: " in notifying.bodies[0]["text"]


@pytest.mark.django_db(transaction=True)
def test_it_tells_of_a_lockout(notifying, mailoutbox, settings) -> None:
    lock_out(settings)
    settle()
    [subject] = notifying.subjects()
    assert subject.startswith(
        "[security] Sign-in locked out: user alice from 198.51.100.7, 5 failures, until "
    )
    assert mail_subjects(mailoutbox) == [subject]


@pytest.mark.django_db(transaction=True)
def test_a_message_is_one_line_per_fact_and_pings_nobody(notifying, mailoutbox) -> None:
    with transaction.atomic():
        security.record(Action.LOCKED_OUT, username="<!channel>\r\nBcc: x", after={"failures": 5})
    settle()
    [body] = notifying.bodies
    assert "&lt;!channel&gt;" in body["text"] and "<!channel>" not in body["text"]
    [message] = mailoutbox
    assert "\n" not in message.subject and "\r" not in message.subject


# --- failures ---------------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_failing_receiver_gets_bounded_retries_and_admins_see_the_failure(
    notifying, mailoutbox, settings, caplog
) -> None:
    notifying.status = 500
    lock_out(settings)
    settle()
    assert len(notifying.bodies) == settings.NOTIFY_ATTEMPTS == 3
    webhook = Notification.objects.get(channel="webhook")
    assert (webhook.status, webhook.attempts, webhook.last_error) == (
        Status.FAILED,
        3,
        "HTTP 500: no_service",
    )
    assert Notification.objects.get(channel="email").status == Status.DELIVERED and len(mailoutbox) == 1
    assert "webhook 1 (127.0.0.1)" in caplog.text and SECRET_PATH not in caplog.text
    admin = client_for(make_user("admin", username="ada"))
    page = admin.get("/notifications/").content.decode()
    assert "HTTP 500: no_service" in page and "webhook 1 (127.0.0.1)" in page and "Failed" in page
    assert f'href="/audit/{webhook.record_id}/"' in page
    assert SECRET_PATH not in page and "notify-test-secret" not in page
    assert "1 delivery failed in the last 7 days" in page
    assert 'text-bg-danger">1<span class="visually-hidden"> failed deliveries' in page  # the nav badge
    assert client_for(make_user("operator", username="olga")).get("/notifications/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_a_hanging_receiver_delays_no_page_and_loses_no_change(
    notifying, mailoutbox, simulator, settings
) -> None:
    settings.NOTIFY_TIMEOUT = SETTLE_SECONDS  # it hangs until the test lets it answer, not until a timeout
    notifying.gate = threading.Event()
    account = production(simulator)
    service_id, _ = service_of(simulator)
    response = apply_change(operator("olga"), account, service_id, "while the hook hangs")
    assert response.status_code == 302  # the page answered while the receiver holds the webhook call
    assert AuditRecord.objects.filter(action=Action.MODIFY_ENDPOINT_SERVICE, outcome=Outcome.APPLIED).exists()
    assert len(simulator.journal(method="PUT")) == 1
    assert notifying.arrived.wait(SETTLE_SECONDS)
    assert Notification.objects.get(channel="webhook").status == Status.SENDING
    notifying.gate.set()
    settle()
    assert set(Notification.objects.values_list("status", flat=True)) == {Status.DELIVERED}
    assert len(notifying.bodies) == 1 and len(mailoutbox) == 1


# --- exactly once -----------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_sends_nothing(notifying, mailoutbox) -> None:
    written: list[int] = []

    def record_then_fail() -> None:
        with transaction.atomic():
            security.record(Action.LOCKED_OUT, username="mallory", after={"failures": 5})
            written.append(Notification.objects.count())  # written beside the record…
            raise RuntimeError("the change fails after its record")

    with pytest.raises(RuntimeError):
        record_then_fail()
    assert written == [2]
    settle()
    assert Notification.objects.count() == 0  # …and gone with it
    assert notifying.bodies == [] and mailoutbox == []


@pytest.mark.django_db(transaction=True)
def test_send_notifications_sends_what_a_stopped_process_left_once(
    notifying, mailoutbox, settings, monkeypatch
) -> None:
    monkeypatch.setattr(delivery, "submit", lambda event, keys: None)  # the process stopped after commit
    lock_out(settings)
    call_command("send_notifications", stdout=io.StringIO())
    assert notifying.bodies == []  # younger than a minute: still its own process's to send
    Notification.objects.update(created_at=F("created_at") - timedelta(minutes=2))
    interrupted = Notification.objects.create(
        event="record:999999", kind="lockout", channel="webhook", destination="0" * 16,
        destination_label="webhook 1 (127.0.0.1)", subject="cut off", text="cut off", status=Status.SENDING,
        claimed_at=timezone.now() - timedelta(hours=1),
    )  # fmt: skip
    for _ in range(2):
        call_command("send_notifications", stdout=io.StringIO())
    assert len(notifying.bodies) == 1 and len(mailoutbox) == 1
    assert set(Notification.objects.exclude(pk=interrupted.pk).values_list("status", flat=True)) == {
        Status.DELIVERED
    }
    interrupted.refresh_from_db()
    assert interrupted.status == Status.FAILED and "interrupted" in interrupted.last_error


# --- nothing configured, nothing done ---------------------------------------------------------------------
def _lockout_entry(username: str) -> recorder.Entry:
    return recorder.Entry(
        action=Action.LOCKED_OUT, target_type=TargetType.USER, outcome=Outcome.RECORDED,
        target_id=username, target_name=username, after={"failures": 5},
    )  # fmt: skip


@pytest.mark.django_db
def test_without_a_destination_nothing_is_written_and_no_query_is_added(settings) -> None:
    settings.NOTIFY_WEBHOOK_URLS, settings.NOTIFY_EMAILS = [], []
    recorder.append(_lockout_entry("the chain's head is made"))
    with CaptureQueriesContext(connection) as notifying:
        recorder.append(_lockout_entry("first"))
    record_appended.disconnect(dispatch_uid="vpcepadmin.notify")
    try:
        with CaptureQueriesContext(connection) as without_notify:
            recorder.append(_lockout_entry("second"))
    finally:
        record_appended.connect(outbox.on_record_appended, dispatch_uid="vpcepadmin.notify")
    assert len(notifying) == len(without_notify)
    assert not any("notify_" in query["sql"] for query in notifying.captured_queries)
    assert Notification.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_without_a_destination_a_production_change_writes_no_row(simulator) -> None:
    account = production(simulator)
    service_id, _ = service_of(simulator)
    assert apply_change(operator("olga"), account, service_id, "quiet").status_code == 302
    assert Notification.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_notifier_that_fails_never_breaks_the_change(notifying, simulator, monkeypatch, caplog) -> None:
    """Making the message raises (a bug, a database error): the change still gets its outcome
    record in the same transaction, the page answers as usual, and the failure is logged."""

    def broken(record: AuditRecord) -> None:
        raise RuntimeError("a bug in the notifier")

    monkeypatch.setattr(messages, "message_for", broken)
    account = production(simulator)
    service_id, _ = service_of(simulator)
    response = apply_change(operator("carol"), account, service_id, "notifier down")
    assert response.status_code == 302
    outcome = AuditRecord.objects.get(action=Action.MODIFY_ENDPOINT_SERVICE, outcome=Outcome.APPLIED)
    assert outcome.after["description"] == "notifier down"
    assert Notification.objects.count() == 0 and notifying.subjects() == []
    assert "A receiver of an audit event failed" in caplog.text and "RuntimeError" in caplog.text
    assert verify_chain().ok
