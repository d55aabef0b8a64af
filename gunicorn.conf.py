"""gunicorn's settings for vpcepadmin: `gunicorn -c gunicorn.conf.py vpcepadmin.wsgi`.

The worker timeout is the one of the time budget (vpcepadmin/budget.py, VPCEPADMIN_WORKER_TIMEOUT),
so a whole apply always ends before gunicorn kills its worker; the system checks refuse settings
where it would not. Everything else may be set on the command line or with GUNICORN_CMD_ARGS.

Threaded workers (gthread): a sync worker is held by one client for as long as that client takes
to send its request, so three clients sending their headers a byte a second would stop the whole
server. With 3 workers x 12 threads, 20 such clients leave threads for everyone else
(tests/test_slow_clients.py); a buffering proxy in front (nginx) is still advisable. Each thread
holds its own database connection: plan PostgreSQL's max_connections for workers x threads per
host.
"""

from __future__ import annotations

import os

from vpcepadmin.budget import Budget

timeout = int(Budget.from_environ().worker_timeout)
graceful_timeout = timeout
workers = int(os.environ.get("VPCEPADMIN_WORKERS", "3"))
worker_class = "gthread"
threads = int(os.environ.get("VPCEPADMIN_THREADS", "12"))
# A worker takes no more connections than it has threads: one that holds slow clients leaves new
# connections to the others instead of queueing them behind its busy threads.
worker_connections = threads
bind = os.environ.get("VPCEPADMIN_BIND", "127.0.0.1:8000")
