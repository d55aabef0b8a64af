"""What an error report may show: never a secret, whether it is a debug page or an error e-mail.

Django's ``SafeExceptionReporterFilter`` hides only what views mark (``sensitive_post_parameters``,
``sensitive_variables``), and only while ``DEBUG`` is off; settings it hides by name. This filter
(``settings.DEFAULT_EXCEPTION_REPORTER_FILTER``) is always on and also hides, by name, any POST
field, request header, setting or local variable that looks like a secret; a URL's user and
password (``DATABASE_URL``, a Redis URL); and any local variable whose text contains a secret the
request posted or a secret setting's value (a Fernet key, the anchor key), whatever it is called.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from django.views.debug import SafeExceptionReporterFilter

# Names of settings, environment variables and headers whose values are hidden (searched anywhere).
SECRET_SETTING = re.compile(
    r"API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|COOKIE|FERNET|ANCHOR|CREDENTIAL|PRIVATE|SALT|DSN|WEBHOOK", re.I
)
# Names of form fields and local variables whose values are hidden.
SECRET_FIELD = re.compile(r"secret|passw|pwd|token|signature|fernet|private|authoriz|cookie|_keys?$", re.I)
# ``scheme://user:password@host``: the part before ``@``.
URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")
# Settings (and keys inside them) whose values are searched for in every local variable.
CONFIGURED_SECRET = re.compile(r"SECRET|FERNET|ANCHOR_KEY|^PASSWORD$", re.I)
MIN_CONFIGURED_LENGTH = 8
# A posted secret shorter than this is not searched for in other values (it would hide too much).
MIN_SECRET_LENGTH = 4
MAX_DEPTH = 4


class SecretHidingReporterFilter(SafeExceptionReporterFilter):
    """``SafeExceptionReporterFilter``, always active, that also hides secrets by name and by value."""

    hidden_settings = SECRET_SETTING

    def is_active(self, request: HttpRequest | None) -> bool:
        """Always: a debug page is shown to whoever causes the error, not only to developers."""
        return True

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        cleansed = super().cleanse_setting(key, value)
        if isinstance(cleansed, str):
            return URL_USERINFO.sub(rf"\g<scheme>{self.cleansed_substitute}@", cleansed)
        return cleansed

    def get_cleansed_multivaluedict(self, request: HttpRequest | None, multivaluedict: Any) -> Any:
        """A copy with the fields the view marked, and every secret-named field, masked."""
        marked = getattr(request, "sensitive_post_parameters", ())
        hidden = [
            name for name in multivaluedict if marked == "__ALL__" or name in marked or _is_secret_field(name)
        ]
        if not hidden:
            return multivaluedict
        cleansed = multivaluedict.copy()
        for name in hidden:
            cleansed.setlist(name, [self.cleansed_substitute])
        return cleansed

    def get_post_parameters(self, request: HttpRequest | None) -> Any:
        if request is None:
            return {}
        return self.get_cleansed_multivaluedict(request, request.POST)

    def get_traceback_frame_variables(self, request: HttpRequest | None, tb_frame: Any) -> Any:
        secrets = posted_secrets(request) | configured_secrets()
        return {
            name: self.cleansed_substitute if _is_secret_field(name) else self._safely(value, secrets)
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        }.items()

    def _safely(self, value: Any, secrets: frozenset[str]) -> Any:
        try:
            return self._cleanse(value, secrets)
        except Exception:  # an object that cannot even be looked at is not shown
            return self.cleansed_substitute

    def _cleanse(self, value: Any, secrets: frozenset[str], depth: int = 0) -> Any:
        """``value`` with secret-named keys, a URL's password and any text holding a secret hidden."""
        if isinstance(value, str | bytes):
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            if any(secret in text for secret in secrets):
                return self.cleansed_substitute
            return self.cleanse_setting("", value) if isinstance(value, str) else value
        if depth >= MAX_DEPTH:
            return value
        if isinstance(value, MultiValueDict):
            return self.get_cleansed_multivaluedict(None, value)
        if isinstance(value, dict):
            return {
                key: self.cleansed_substitute
                if isinstance(key, str) and _is_secret_field(key)
                else self._cleanse(item, secrets, depth + 1)
                for key, item in value.items()
            }
        if value.__class__ in (list, tuple):
            return value.__class__(self._cleanse(item, secrets, depth + 1) for item in value)
        return value


def _is_secret_field(name: object) -> bool:
    return isinstance(name, str) and bool(SECRET_FIELD.search(name))


def configured_secrets() -> frozenset[str]:
    """The values of secret settings (the Fernet keys, the anchor key, database passwords...)."""
    found: set[str] = set()
    for name in dir(settings):
        if name.isupper():
            _collect(name, getattr(settings, name), found, secret=False, depth=0)
    return frozenset(found)


def _collect(name: object, value: Any, found: set[str], *, secret: bool, depth: int) -> None:
    secret = secret or (isinstance(name, str) and bool(CONFIGURED_SECRET.search(name)))
    if isinstance(value, str):
        if secret and len(value) >= MIN_CONFIGURED_LENGTH:
            found.add(value)
    elif depth < MAX_DEPTH and isinstance(value, dict):
        for key, item in value.items():
            _collect(key, item, found, secret=secret, depth=depth + 1)
    elif depth < MAX_DEPTH and isinstance(value, list | tuple):
        for item in value:
            _collect("", item, found, secret=secret, depth=depth + 1)


def posted_secrets(request: HttpRequest | None) -> frozenset[str]:
    """The values the request posted under a secret's name (or a name its view marked sensitive)."""
    try:
        post = request.POST if request is not None else None
    except Exception:  # the body that could not be parsed is shown nowhere either
        return frozenset()
    if not isinstance(post, MultiValueDict):
        return frozenset()
    marked = getattr(request, "sensitive_post_parameters", ())
    return frozenset(
        value
        for name in post
        if marked == "__ALL__" or name in marked or _is_secret_field(name)
        for value in post.getlist(name)
        if len(value) >= MIN_SECRET_LENGTH
    )
