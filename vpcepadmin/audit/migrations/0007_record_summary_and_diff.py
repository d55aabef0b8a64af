"""Each record's one-line summary and field diff, stored when it is written (``recorder.append``)
so that the tables and the record's page need not decode its JSON again. Outside the hash
(``chain.HASHED_FIELDS`` is unchanged, existing chains still verify); ``verify_audit`` re-derives
them. Empty (NULL) until migration 0008 derives them for the records written before."""

from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0006_security_events"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditrecord",
            name="diff",
            field=models.JSONField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="auditrecord",
            name="summary",
            field=models.TextField(blank=True, editable=False, null=True),
        ),
    ]
