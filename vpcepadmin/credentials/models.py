"""``CloudCredential``: one stored cloud account (design.md §3)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from vpcepadmin.cloud.regions import CLOUD_CHOICES, Endpoints, default_endpoints
from vpcepadmin.credentials import crypto

PROJECT_ID = RegexValidator(r"^[0-9a-f]{32}$", "A project id is 32 lower-case hexadecimal characters.")


class AuthMethod(models.TextChoices):
    AKSK = "aksk", "Access key and secret key (request signing)"
    PASSWORD = "password", "IAM user and password (token)"


class Environment(models.TextChoices):
    PRODUCTION = "production", "Production"
    STAGING = "staging", "Staging"
    TEST = "test", "Test"
    DEVELOPMENT = "development", "Development"


class Colour(models.TextChoices):
    RED = "red", "Red"
    ORANGE = "orange", "Orange"
    YELLOW = "yellow", "Yellow"
    GREEN = "green", "Green"
    BLUE = "blue", "Blue"
    PURPLE = "purple", "Purple"
    GREY = "grey", "Grey"


class CloudCredential(models.Model):
    """A cloud account the dashboard may call, with its secret encrypted at rest.

    Guarantees: the secret (secret key or IAM password) is stored only as a Fernet token and is
    readable only through ``secret()``, which raises ``crypto.SecretUnreadable`` rather than return
    anything else; ``secret_version`` changes whenever the secret or identity changes, so cached IAM
    tokens of an old identity are never reused; production accounts are always shown red.
    """

    name = models.CharField("display name", max_length=80, unique=True)
    cloud = models.CharField(max_length=16, choices=CLOUD_CHOICES)
    region = models.CharField(max_length=32)
    project_id = models.CharField("project ID", max_length=32, validators=[PROJECT_ID])
    auth_method = models.CharField(max_length=16, choices=AuthMethod.choices, default=AuthMethod.AKSK)
    access_key = models.CharField("access key ID", max_length=128, blank=True)
    iam_username = models.CharField("IAM user name", max_length=64, blank=True)
    domain_name = models.CharField("account (domain) name", max_length=64, blank=True)
    secret_encrypted = models.TextField(blank=True, editable=False)
    secret_version = models.PositiveIntegerField(default=1, editable=False)
    vpcep_endpoint = models.CharField("VPCEP endpoint override", max_length=255, blank=True)
    iam_endpoint = models.CharField("IAM endpoint override", max_length=255, blank=True)
    environment = models.CharField(
        max_length=16, choices=Environment.choices, default=Environment.DEVELOPMENT
    )
    colour = models.CharField(max_length=16, choices=Colour.choices, default=Colour.BLUE)
    requires_approval = models.BooleanField(
        "changes need a second person's approval",
        default=False,
        help_text="A service edit reviewed on this account (or on any account of the same project) is a "
        "request; another operator approves and applies it. On by default for production accounts.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.CharField(max_length=300, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        permissions = [("modify_endpoint_services", "Can modify endpoint services through this dashboard")]

    def __str__(self) -> str:
        return self.name

    def four_eyes(self) -> bool:
        """Whether service edits through this account need a second person's approval: its own
        setting, or that of any stored account of the same project (one target, many accounts)."""
        if self.requires_approval:
            return True
        known: bool | None = getattr(self, "_four_eyes", None)  # asked once per loaded account
        if known is None:
            siblings = CloudCredential.objects.filter(
                cloud=self.cloud, region=self.region, project_id=self.project_id, requires_approval=True
            )
            known = siblings.exists()
            self._four_eyes = known
        return known

    # --- the secret -----------------------------------------------------------------------------------
    def set_secret(self, plaintext: str) -> None:
        self.secret_encrypted = crypto.encrypt(plaintext)
        self.secret_version += 1

    def secret(self) -> str:
        if not self.secret_encrypted:
            raise crypto.SecretUnreadable("no secret is stored")
        return crypto.decrypt(self.secret_encrypted)

    @property
    def secret_readable(self) -> bool:
        try:
            self.secret()
        except crypto.SecretUnreadable:
            return False
        return True

    # --- presentation and endpoints ---------------------------------------------------------------------
    @property
    def current_error(self) -> str:
        """The last error, unless a success came after it (an older error is no longer the news)."""
        if not self.last_error or self.last_error_at is None:
            return ""
        if self.last_success_at is not None and self.last_success_at >= self.last_error_at:
            return ""
        return self.last_error

    @property
    def display_colour(self) -> str:
        return Colour.RED if self.environment == Environment.PRODUCTION else self.colour

    @property
    def masked_access_key(self) -> str:
        key = self.access_key
        return f"{key[:4]}…{key[-4:]}" if len(key) > 8 else "…"

    @property
    def identity(self) -> str:
        """Who the account signs in as, masked: the access key's ends or the IAM user."""
        if self.auth_method == AuthMethod.AKSK:
            return self.masked_access_key
        return f"{self.iam_username} @ {self.domain_name}"

    def endpoints(self) -> Endpoints:
        default = default_endpoints(self.cloud, self.region)
        return Endpoints(self.vpcep_endpoint or default.vpcep, self.iam_endpoint or default.iam)

    @property
    def token_cache_key(self) -> str:
        return f"iam-token:{self.pk}:{self.secret_version}"
