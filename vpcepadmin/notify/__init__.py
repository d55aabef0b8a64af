"""Notifications of the events an operator or an auditor must not miss, sent by webhook and e-mail.

Configured by the deployment only (``VPCEPADMIN_NOTIFY_*``, README "Notifications"). Every event is
an audit record: ``audit.events.record_appended`` tells this app of each one, and ``outbox`` writes
a row per destination in the record's own transaction; ``delivery`` sends them after the commit, in
a small thread pool, so that sending never delays or breaks the change. The webhook transport is the
one outbound HTTP outside ``vpcepadmin/cloud/`` (design.md §1): a webhook is not the cloud's API.
"""
