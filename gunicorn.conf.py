"""gunicorn's settings for vpcepadmin: `gunicorn -c gunicorn.conf.py vpcepadmin.wsgi`.

The worker timeout is the one of the time budget (vpcepadmin/budget.py, VPCEPADMIN_WORKER_TIMEOUT),
so a whole apply always ends before gunicorn kills its worker; the system checks refuse settings
where it would not. Everything else may be set on the command line or with GUNICORN_CMD_ARGS.

Threaded workers (gthread), as many as the cores + 1, each with 12 threads (vpcepadmin/serving.py
says why; VPCEPADMIN_WORKERS and VPCEPADMIN_THREADS override). A sync worker is held by one client
for as long as that client takes to send its request, so three clients sending their headers a byte
a second would stop the whole server; with threads, 20 such clients leave threads for everyone else
(tests/test_slow_clients.py); a buffering proxy in front (nginx) is still advisable. Each thread
holds its own database connection: plan PostgreSQL's max_connections for workers x threads per
host.
"""

from __future__ import annotations

import os

from vpcepadmin.budget import Budget
from vpcepadmin.serving import plan

_plan = plan()

timeout = int(Budget.from_environ().worker_timeout)
graceful_timeout = timeout
workers = _plan.workers
worker_class = "gthread"
threads = _plan.threads
# A worker takes no more connections than it has threads: one that holds slow clients leaves new
# connections to the others instead of queueing them behind its busy threads.
worker_connections = threads
bind = os.environ.get("VPCEPADMIN_BIND", "127.0.0.1:8000")
