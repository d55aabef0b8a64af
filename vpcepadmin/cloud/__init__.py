"""The only code that speaks HTTP to a cloud (design.md §1).

Callers build a ``VpcepClient`` (``client.py``) and call ``endpoint_service_*`` functions
(``endpoint_services.py``) that return frozen dataclasses (``types.py``) or raise one of the
``CloudError`` classes (``errors.py``). Network policy — timeouts, total deadline, body cap, no
redirects, GET-only retries — lives in ``transport.py``; authentication in ``auth.py``.
"""
