from __future__ import annotations

from django.apps import AppConfig


class NotifyConfig(AppConfig):
    """Webhook and e-mail notifications of audit events (the outbox and its delivery)."""

    name = "vpcepadmin.notify"
    label = "notify"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from vpcepadmin.audit.events import attempt_left_open, record_appended
        from vpcepadmin.notify import checks, outbox  # noqa: F401  (importing checks registers them)

        record_appended.connect(outbox.on_record_appended, dispatch_uid="vpcepadmin.notify")
        attempt_left_open.connect(outbox.on_attempt_left_open, dispatch_uid="vpcepadmin.notify.open")
