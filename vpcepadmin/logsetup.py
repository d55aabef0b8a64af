"""Log formatting: one line per record with the app request id; control characters escaped.

Nothing here filters secrets: code that handles secrets never logs them (see vpcepadmin.cloud).
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class OneLineFormatter(logging.Formatter):
    """``time level logger request_id message`` where the message is JSON-escaped (no CR/LF injection)."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message = f"{message}\n{self.formatException(record.exc_info)}"
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        request_id = getattr(record, "request_id", request_id_var.get())
        return (
            f"{stamp} {record.levelname} {record.name} {request_id} {json.dumps(message, ensure_ascii=False)}"
        )
