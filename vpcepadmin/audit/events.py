"""What the audit log tells the layers above it: a record was appended.

``record_appended`` is sent by ``recorder.append`` right after the record is saved, inside the
caller's transaction (keyword argument ``record``). A receiver that writes rows in that transaction
makes them durable together with the record, and rolled back with it; anything slow or fallible a
receiver must do belongs in ``transaction.on_commit``. The audit app never imports its receivers
(``vpcepadmin.notify`` connects one): the log knows no reader.
"""

from __future__ import annotations

from django.dispatch import Signal

record_appended = Signal()
