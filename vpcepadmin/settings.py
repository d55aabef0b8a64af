"""The one settings module. Everything that differs between machines comes from the environment.

See README.md ("Configuration") for every variable. Unsafe production configurations are refused by
the system checks in ``vpcepadmin.checks``.
"""

from __future__ import annotations

import contextlib
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext
import xstatic.pkg.bootstrap as xstatic_bootstrap
from django.core.exceptions import ImproperlyConfigured

from vpcepadmin.budget import Budget

# Generic admin/forms/querysets at run time, as the type checker sees them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VPCEPADMIN_VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("VPCEPADMIN_DEBUG")
SECRET_KEY = env_str("VPCEPADMIN_SECRET_KEY")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "VPCEPADMIN_SECRET_KEY is not set. Set it to a long random value "
        "(`make run` writes one to var/local.env for local use)."
    )
# Earlier keys, still accepted for what they signed (sessions, edit forms) while a new key rolls out.
SECRET_KEY_FALLBACKS = env_list("VPCEPADMIN_SECRET_KEY_FALLBACKS")
ALLOWED_HOSTS = env_list("VPCEPADMIN_ALLOWED_HOSTS", "localhost,127.0.0.1" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("VPCEPADMIN_CSRF_TRUSTED_ORIGINS")

# The simulator is a fake cloud; while it is enabled, accounts may point at loopback endpoints.
SIMULATOR_ENABLED = env_bool("VPCEPADMIN_SIMULATOR")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "crispy_forms",
    "crispy_bootstrap5",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_static",  # recovery codes (stored as digests: vpcepadmin/mfa/services.py)
    "vpcepadmin",
    "vpcepadmin.credentials",
    "vpcepadmin.endpoints",
    "vpcepadmin.audit",
    "vpcepadmin.changes",
    "vpcepadmin.policies",
    "vpcepadmin.simulator",
    "vpcepadmin.mfa",  # after otp_static: its admin replaces otp_static's
    "vpcepadmin.notify",
]

MIDDLEWARE = [
    "vpcepadmin.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before WhiteNoise, so that static files carry the header too.
    "vpcepadmin.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Answers GET /healthz itself: after the header-only middlewares, before sessions and users.
    "vpcepadmin.middleware.HealthCheckMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): a second factor this session
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "vpcepadmin.middleware.LoginRequiredMiddleware",
    # After sign-in is required: a user who owes a second factor reaches only its pages.
    "vpcepadmin.mfa.middleware.SecondFactorMiddleware",
    "vpcepadmin.middleware.NoStoreMiddleware",
    # Last: turns a sign-in refused by a lock into the lockout page (vpcepadmin/lockout.py).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "vpcepadmin.urls"
WSGI_APPLICATION = "vpcepadmin.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "vpcepadmin.context_processors.site",
                "vpcepadmin.notify.context_processors.notifications",
            ],
            "string_if_invalid": "",
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=int(env_str("VPCEPADMIN_DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # SQLite serialises writers: transactions take the write lock when they begin (no lock-upgrade
    # deadlock between two readers turning writers) and wait for it up to the busy timeout. Tests use
    # a file too, so that threads get separate connections that wait rather than fail.
    # WAL: readers never block the writer, and a commit costs one fsync instead of two.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# IAM tokens live in the cache; several app processes must share it (Redis in production).
# A down or hung Redis must cost little: redis-py waits 5 s by default, and the token cache falls
# back to a fetch per call on any cache error (vpcepadmin.cloud.auth). Django's RedisCache passes
# OPTIONS to redis-py's connection pool.
REDIS_CACHE_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
_cache_url = env_str("VPCEPADMIN_CACHE_URL")
if _cache_url:
    CACHES: dict[str, dict[str, Any]] = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _cache_url,
            "KEY_PREFIX": "vpcepadmin",
            "OPTIONS": dict(REDIS_CACHE_OPTIONS),
        }
    }
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "vpcepadmin"}
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 15}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("VPCEPADMIN_STATIC_ROOT") or VAR_DIR / "static")
with contextlib.suppress(OSError):  # WhiteNoise looks at it on start-up; `collectstatic` fills it.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static", ("bootstrap", xstatic_bootstrap.BASE_DIR)]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# With `collectstatic` run at deploy time, hashed names let browsers cache static files for ever.
if env_bool("VPCEPADMIN_STATIC_MANIFEST"):
    STORAGES["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- sessions, cookies, headers -------------------------------------------------------------------
SECURE_COOKIES = env_bool("VPCEPADMIN_SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_NAME = "__Host-sessionid" if SECURE_COOKIES else "sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken" if SECURE_COOKIES else "csrftoken"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = int(timedelta(hours=12).total_seconds())
SESSION_IDLE_TIMEOUT = int(env_str("VPCEPADMIN_SESSION_IDLE_SECONDS", "1800"))
SECURE_SSL_REDIRECT = env_bool("VPCEPADMIN_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = 0 if DEBUG else 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
# The header only; enrolling the domain in browsers' preload list is a separate, deliberate step.
SECURE_HSTS_PRELOAD = env_bool("VPCEPADMIN_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Only a proxy we run may tell us the client's address; see vpcepadmin.middleware.client_ip.
TRUSTED_PROXY_HEADER = env_str("VPCEPADMIN_TRUSTED_PROXY_HEADER")  # e.g. "HTTP_X_FORWARDED_FOR"
TRUSTED_PROXY_COUNT = int(env_str("VPCEPADMIN_TRUSTED_PROXY_COUNT", "1"))
if env_bool("VPCEPADMIN_BEHIND_TLS_PROXY"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# --- sign-in protection: django-axes with two limits (vpcepadmin/lockout.py, README) ---------------
# A username is locked from one client address after LOCKOUT_USER_FAILURES failures, an address after
# LOCKOUT_ADDRESS_FAILURES failures across usernames, each for LOCKOUT_MINUTES after the failure that
# locked it. The counts are in the database: every app process sees the same ones.
LOCKOUT_USER_FAILURES = int(env_str("VPCEPADMIN_LOCKOUT_USER_FAILURES", "5"))
LOCKOUT_ADDRESS_FAILURES = int(env_str("VPCEPADMIN_LOCKOUT_ADDRESS_FAILURES", "20"))
LOCKOUT_MINUTES = int(env_str("VPCEPADMIN_LOCKOUT_MINUTES", "15"))
# axes' backend refuses a locked sign-in before any password is checked; ModelBackend checks it.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend, with the permissions and role names read in one query (vpcepadmin/permissions.py).
    "vpcepadmin.permissions.RoleBackend",
]
AXES_HANDLER = "vpcepadmin.lockout.TwoLimitHandler"  # the database handler, with the second limit
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_FAILURE_LIMIT = "vpcepadmin.lockout.failure_limit"  # LOCKOUT_USER_FAILURES (the handler adds the other)
AXES_COOLOFF_TIME = "vpcepadmin.lockout.cool_off"  # LOCKOUT_MINUTES
# A lock lasts LOCKOUT_MINUTES from the failure that set it: attempts refused while it holds (even
# with the right password) are failed sign-ins in the audit log, but neither count nor extend it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True  # that user's failures from that address only, never the address's others
AXES_CLIENT_IP_CALLABLE = "vpcepadmin.lockout.client_address"  # the trusted address of the audit log
AXES_LOCKOUT_CALLABLE = "vpcepadmin.lockout_views.locked_out"  # one 429 page, whoever was tried
AXES_USERNAME_FORM_FIELD = "username"
# Masked in axes' log lines and in the form data it keeps with each failure ("password" always is).
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "password", "csrfmiddlewaretoken", "otp_token"]
AXES_ENABLE_ADMIN = False  # locks are seen and ended on /lockouts/, which records who ended them
AXES_DISABLE_ACCESS_LOG = True  # sign-ins and sign-outs are in the audit log already

# --- the clouds -----------------------------------------------------------------------------------
# One time budget for a change (vpcepadmin/budget.py): a whole apply ends before the worker is killed.
TIME_BUDGET = Budget.from_environ()
WORKER_TIMEOUT = TIME_BUDGET.worker_timeout  # the app server's (gunicorn.conf.py reads the same)
CLOUD_CONNECT_TIMEOUT = float(env_str("VPCEPADMIN_CLOUD_CONNECT_TIMEOUT", "3.05"))
CLOUD_READ_TIMEOUT = float(env_str("VPCEPADMIN_CLOUD_READ_TIMEOUT", "10"))
CLOUD_DEADLINE = TIME_BUDGET.cloud_deadline  # one call, retries included
CLOUD_MAX_BODY_BYTES = int(env_str("VPCEPADMIN_CLOUD_MAX_BODY_BYTES", str(5 * 1024 * 1024)))
CLOUD_GET_RETRIES = int(env_str("VPCEPADMIN_CLOUD_GET_RETRIES", "2"))
CLOUD_RETRY_AFTER_MAX = float(env_str("VPCEPADMIN_CLOUD_RETRY_AFTER_MAX", "10"))
CLOUD_BACKOFF_BASE = float(env_str("VPCEPADMIN_CLOUD_BACKOFF_BASE", "0.5"))
CLOUD_BACKOFF_MAX = float(env_str("VPCEPADMIN_CLOUD_BACKOFF_MAX", "4"))
# A CA file (PEM) or hashed directory to check cloud certificates against instead of the system's
# store: for a private CA or a TLS-inspecting proxy. Empty: the system's store (certifi).
CLOUD_CA_BUNDLE = env_str("VPCEPADMIN_CLOUD_CA_BUNDLE", "")
# Endpoint overrides must end in one of these (SSRF rules, reliability.md §5.5).
CLOUD_ALLOWED_ENDPOINT_SUFFIXES = env_list(
    "VPCEPADMIN_ALLOWED_ENDPOINT_SUFFIXES", "myhuaweicloud.com,myhuaweicloud.eu,otc.t-systems.com"
)

# --- logging: one line per record, never a secret (the cloud client logs no headers or bodies) -------
LOG_LEVEL = env_str("VPCEPADMIN_LOG_LEVEL", "INFO")
# A Server-Timing header on every response (cloud, database and total ms); off unless asked for.
SERVER_TIMING = env_bool("VPCEPADMIN_SERVER_TIMING")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "vpcepadmin.logsetup.RequestIdFilter"}},
    "formatters": {"line": {"()": "vpcepadmin.logsetup.OneLineFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "line", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "INFO"},
        "urllib3": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # each failure and lock; not its chatter about every sign-in
    },
}

# Error pages and e-mails hide every secret, in DEBUG too (posted, in settings, in local variables).
DEFAULT_EXCEPTION_REPORTER_FILTER = "vpcepadmin.error_reports.SecretHidingReporterFilter"

# --- secrets of stored cloud accounts (MultiFernet, newest key first; independent of SECRET_KEY) -------
FERNET_KEYS = env_list("VPCEPADMIN_FERNET_KEYS")

# --- the second factor (vpcepadmin/mfa/, README "Second factor") ---------------------------------------
# Roles that must use an authenticator app (a superuser holds every role); anybody may enrol one.
MFA_REQUIRED_ROLES = env_list("VPCEPADMIN_MFA_REQUIRED_ROLES", "operator,admin")
# Changes to production accounts and to stored accounts need a second-factor check this recent.
REAUTH_SECONDS = int(env_str("VPCEPADMIN_REAUTH_SECONDS", "900"))
OTP_TOTP_ISSUER = "vpcepadmin"  # the name authenticator apps show beside the user name

# --- the edit flow --------------------------------------------------------------------------------
EDIT_LOCK_TIMEOUT = TIME_BUDGET.lock_wait  # waiting for another change to the same target
EDIT_APPLY_DEADLINE = TIME_BUDGET.apply_deadline  # a whole apply: lock wait and every cloud call
EDIT_VERSION_MAX_AGE = int(env_str("VPCEPADMIN_EDIT_VERSION_MAX_AGE", str(12 * 3600)))
# A change request waiting for a second person's approval expires after this many seconds (24 h).
APPROVAL_MAX_AGE = int(env_str("VPCEPADMIN_APPROVAL_MAX_AGE", str(24 * 3600)))

# --- audit: anchors, retention ---
# Anchors are (sequence, hash, time) lines signed with HMAC-SHA256 under a key that lives only in the
# environment of whoever runs `anchor_audit` / `verify_audit --anchors` / `prune_audit` (never in the
# database, never derived from SECRET_KEY); the web processes do not need it.
AUDIT_ANCHOR_KEY = env_str("VPCEPADMIN_AUDIT_ANCHOR_KEY")
# Keys that signed earlier anchors, still accepted when verifying them after a rotation.
AUDIT_ANCHOR_OLD_KEYS = env_list("VPCEPADMIN_AUDIT_ANCHOR_OLD_KEYS")
AUDIT_ANCHOR_FILE = Path(env_str("VPCEPADMIN_AUDIT_ANCHOR_FILE") or VAR_DIR / "audit-anchors.jsonl")
# How long records are kept, in days; 0 keeps them for ever (the default). `prune_audit` applies it.
AUDIT_RETENTION_DAYS = int(env_str("VPCEPADMIN_AUDIT_RETENTION_DAYS", "0"))
# Records per page on /audit/, and how many records a record's page re-verifies live at most.
AUDIT_PAGE_SIZE = int(env_str("VPCEPADMIN_AUDIT_PAGE_SIZE", "50"))
AUDIT_LIVE_VERIFY_LIMIT = int(env_str("VPCEPADMIN_AUDIT_LIVE_VERIFY_LIMIT", "5000"))
# Processes `verify_audit` uses on PostgreSQL for long chains (0: one per CPU, at most 4).
AUDIT_VERIFY_WORKERS = int(env_str("VPCEPADMIN_AUDIT_VERIFY_WORKERS", "0"))

# --- notifications (vpcepadmin/notify/, README "Notifications"): set by the deployment, never a page ---
# A webhook URL is a secret (its path is the credential): shown only as its host, never logged.
NOTIFY_WEBHOOK_URLS = env_list("VPCEPADMIN_NOTIFY_WEBHOOK_URLS")
NOTIFY_EMAILS = env_list("VPCEPADMIN_NOTIFY_EMAILS")
NOTIFY_TIMEOUT = float(env_str("VPCEPADMIN_NOTIFY_TIMEOUT", "5"))  # seconds, per webhook call or e-mail
NOTIFY_ATTEMPTS = int(env_str("VPCEPADMIN_NOTIFY_ATTEMPTS", "3"))  # tries per message and destination
NOTIFY_BACKOFF = float(env_str("VPCEPADMIN_NOTIFY_BACKOFF", "1"))  # seconds before the 2nd try, doubling
# The dashboard's address as its users reach it, for links in messages; the public origin by default.
PUBLIC_URL = env_str("VPCEPADMIN_PUBLIC_URL") or next(iter(CSRF_TRUSTED_ORIGINS), "")
# E-mail through Django's backend (SMTP unless another backend is named).
EMAIL_BACKEND = env_str("VPCEPADMIN_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("VPCEPADMIN_EMAIL_HOST", "localhost")
EMAIL_PORT = int(env_str("VPCEPADMIN_EMAIL_PORT", "25"))
EMAIL_HOST_USER = env_str("VPCEPADMIN_EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("VPCEPADMIN_EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("VPCEPADMIN_EMAIL_USE_TLS")  # STARTTLS (port 587)
EMAIL_USE_SSL = env_bool("VPCEPADMIN_EMAIL_USE_SSL")  # TLS from the start (port 465)
EMAIL_TIMEOUT = NOTIFY_TIMEOUT
DEFAULT_FROM_EMAIL = env_str("VPCEPADMIN_EMAIL_FROM", "vpcepadmin@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
