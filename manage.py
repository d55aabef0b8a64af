#!/usr/bin/env python
"""Django's command-line utility for vpcepadmin."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vpcepadmin.settings")
    # The demo's var/local.env (written by `make run`) fills in what the environment leaves unset, so
    # every manage.py command works in a plain shell. Only here: the WSGI entry point never reads it,
    # so a production server cannot silently pick up a developer's keys; it has no such file anyway.
    from vpcepadmin.localenv import load_local_env

    load_local_env()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
