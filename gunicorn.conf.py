"""gunicorn's settings for vpcepadmin: `gunicorn -c gunicorn.conf.py vpcepadmin.wsgi`.

The worker timeout is the one of the time budget (vpcepadmin/budget.py, VPCEPADMIN_WORKER_TIMEOUT),
so a whole apply always ends before gunicorn kills its worker; the system checks refuse settings
where it would not. Everything else may be set on the command line or with GUNICORN_CMD_ARGS.
"""

from __future__ import annotations

import os

from vpcepadmin.budget import Budget

timeout = int(Budget.from_environ().worker_timeout)
graceful_timeout = timeout
workers = int(os.environ.get("VPCEPADMIN_WORKERS", "3"))
bind = os.environ.get("VPCEPADMIN_BIND", "127.0.0.1:8000")
