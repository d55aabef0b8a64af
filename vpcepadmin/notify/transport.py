"""How one message reaches one destination: a webhook POST, or an e-mail through Django's backend.

NOTE: the one outbound HTTP outside ``vpcepadmin/cloud/`` (design.md §1, a deliberate exception): a
webhook is not the cloud's API and needs none of its signing, retries or error taxonomy. The rules
that matter here: a short timeout on connect and on every read, no redirect followed, nothing of
the URL in an error or a log line (its path is the webhook's credential), at most 1 KiB of an
answer read.

The webhook body is one JSON object that both Slack and Microsoft Teams incoming webhooks accept:
Slack reads ``text``; a Teams connector reads the same ``text`` as a MessageCard, with ``summary``,
``themeColor`` and an "Open in vpcepadmin" button. Each ignores the other's keys.
"""

from __future__ import annotations

import smtplib
from typing import Any

import orjson
import requests  # noqa: TID251  (a webhook, not a cloud: see the module's docstring)
from django.conf import settings
from django.core import mail

from vpcepadmin.notify.destinations import Destination
from vpcepadmin.notify.models import Channel, Kind, Notification

ANSWER_BYTES = 1024
COLOURS = {  # MessageCard themeColor: red for what needs someone, amber for a decision, green when done
    Kind.REQUEST_WAITING: "F2C12E",
    Kind.REQUEST_DECIDED: "0078D7",
    Kind.CHANGE_APPLIED: "2EB67D",
    Kind.CHANGE_FAILED: "D13438",
    Kind.CHANGE_UNKNOWN: "D13438",
    Kind.OUTSIDE_CHANGE: "F2C12E",
    Kind.LOCKOUT: "D13438",
}


class DeliveryError(Exception):
    """A destination did not take the message; ``str()`` is safe to store and log (no URL)."""

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


def send(destination: Destination, notification: Notification) -> None:
    """Deliver ``notification`` to ``destination`` once; raises ``DeliveryError``."""
    if destination.channel == Channel.WEBHOOK:
        post_webhook(destination.address, payload(notification))
    else:
        send_email(destination.address, notification)


def payload(notification: Notification) -> dict[str, Any]:
    body: dict[str, Any] = {
        "text": slack_escaped(notification.text),
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": notification.subject,
        "themeColor": COLOURS.get(Kind(notification.kind), "0078D7"),
    }
    if notification.link:
        body["potentialAction"] = [
            {
                "@type": "OpenUri",
                "name": "Open in vpcepadmin",
                "targets": [{"os": "default", "uri": notification.link}],
            }
        ]
    return body


def slack_escaped(text: str) -> str:
    """``&``, ``<`` and ``>`` as Slack wants them: a name such as ``<!channel>`` pings nobody."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def post_webhook(url: str, body: dict[str, Any]) -> None:
    timeout = settings.NOTIFY_TIMEOUT
    try:
        response = requests.post(
            url,
            data=orjson.dumps(body),
            headers={"Content-Type": "application/json", "User-Agent": "vpcepadmin"},
            timeout=(timeout, timeout),
            allow_redirects=False,
            stream=True,
        )
    # NOTE: requests' own messages name the URL: only the kind of failure is kept.
    except requests.Timeout as exc:
        raise DeliveryError(f"no answer within {timeout:g} s") from exc
    except requests.exceptions.SSLError as exc:
        raise DeliveryError("TLS handshake failed") from exc
    except requests.ConnectionError as exc:
        raise DeliveryError("could not connect") from exc
    except requests.RequestException as exc:
        raise DeliveryError(f"request failed ({type(exc).__name__})") from exc
    with response:
        if 200 <= response.status_code < 300:
            return
        answer = _answer(response, url)
    status = response.status_code
    retryable = status >= 500 or status in (408, 429)
    what = "a redirect (not followed)" if 300 <= status < 400 else f"HTTP {status}"
    raise DeliveryError(f"{what}{': ' + answer if answer else ''}", retryable)


def _answer(response: requests.Response, url: str) -> str:
    """The start of an error answer ("no_service", "invalid_payload"), without the URL's secret."""
    try:
        raw = response.raw.read(ANSWER_BYTES, decode_content=True)
    except (requests.RequestException, OSError):
        return ""
    text = " ".join(bytes(raw or b"").decode("utf-8", "replace").split())
    for secret in {url, url.split("://", 1)[-1].split("/", 1)[-1]} - {""}:
        text = text.replace(secret, "…")
    return text[:120]


def send_email(address: str, notification: Notification) -> None:
    message = mail.EmailMessage(
        subject=f"[vpcepadmin] {notification.subject}",
        body=notification.text,
        to=[address],
        connection=mail.get_connection(fail_silently=False, timeout=settings.NOTIFY_TIMEOUT),
    )
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError("the mail server refused the recipient", retryable=False) from exc
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError("the mail server refused the sign-in (EMAIL_HOST_USER)", retryable=False) from exc
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"SMTP {exc.smtp_code}", retryable=exc.smtp_code < 500) from exc
    except smtplib.SMTPException as exc:
        raise DeliveryError(f"SMTP error ({type(exc).__name__})") from exc
    except OSError as exc:  # refused, unreachable, timed out: before anything was accepted
        raise DeliveryError(f"could not reach the mail server ({type(exc).__name__})") from exc
