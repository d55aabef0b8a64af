"""The second factor in Django's admin: no page of its own.

django-otp's admin for recovery codes shows the stored tokens and lets anyone with the model
permissions add or change them; it is unregistered (``vpcepadmin.mfa`` comes after
``otp_static`` in ``INSTALLED_APPS``). Nor is the authenticator device registered: a registered model
without delete permission would stop the admin from deleting its users. A user's admin page says
whether they have a second factor and links to the reset (``/accounts/mfa/reset/<pk>/``), which
applies the admin's rules and records it.
"""

from __future__ import annotations

from django.contrib import admin
from django_otp.plugins.otp_static.models import StaticDevice

admin.site.unregister(StaticDevice)
