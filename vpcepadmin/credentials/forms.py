"""The account form: every rule an account's fields must satisfy. Secrets are write-only."""

from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Fieldset, Layout
from django import forms

from vpcepadmin.cloud.regions import CLOUD_CHOICES, REGIONS
from vpcepadmin.credentials.models import AuthMethod, CloudCredential, Environment
from vpcepadmin.credentials.validators import validate_endpoint_override

IDENTITY_FIELDS = (
    "cloud",
    "region",
    "project_id",
    "auth_method",
    "iam_username",
    "domain_name",
    "iam_endpoint",
)
REGION_CHOICES = [(label, [(region, region) for region in REGIONS[cloud]]) for cloud, label in CLOUD_CHOICES]


class SecretInput(forms.PasswordInput):
    """Never renders a value back; the browser is told not to autofill it."""

    def __init__(self) -> None:
        super().__init__(render_value=False, attrs={"autocomplete": "new-password"})


class CloudCredentialForm(forms.ModelForm[CloudCredential]):
    """Create or edit an account. On edit a blank secret or access key keeps the stored one."""

    region = forms.ChoiceField(choices=REGION_CHOICES)
    access_key = forms.CharField(
        label="Access key ID",
        required=False,
        max_length=128,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    secret_key = forms.CharField(
        label="Secret access key", required=False, max_length=256, widget=SecretInput()
    )
    password = forms.CharField(label="IAM password", required=False, max_length=256, widget=SecretInput())

    class Meta:
        model = CloudCredential
        fields = [
            "name",
            "environment",
            "colour",
            "requires_approval",
            "cloud",
            "region",
            "project_id",
            "auth_method",
            "access_key",
            "iam_username",
            "domain_name",
            "vpcep_endpoint",
            "iam_endpoint",
        ]
        widgets = {"auth_method": forms.RadioSelect}
        help_texts = {
            "project_id": "32 hexadecimal characters, from the console's “My Credentials” page.",
            "colour": "Production accounts are always shown red.",
            "vpcep_endpoint": "Leave blank for the region's public endpoint. Must be https on an allowed domain.",
            "iam_endpoint": "Leave blank for the region's public IAM endpoint.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.editing = self.instance.pk is not None
        self._stored_access_key = self.instance.access_key if self.editing else ""
        self.initial["access_key"] = ""
        if self.editing:
            keep = "Leave blank to keep the stored value."
            self.fields["access_key"].help_text = f"Stored: {self.instance.masked_access_key}. {keep}"
            self.fields["secret_key"].help_text = keep
            self.fields["password"].help_text = keep
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True  # the page's <form> has its token
        self.helper.layout = Layout(
            Fieldset("Account", "name", "environment", "colour", "requires_approval"),
            Fieldset("Cloud", "cloud", "region", "project_id"),
            Fieldset("Sign-in", "auth_method"),
            # static/js/account_form.js shows only the fieldset of the chosen method (data-auth-method).
            Fieldset(
                "Sign in with an access key (AK/SK)",
                "access_key",
                "secret_key",
                data_auth_method=AuthMethod.AKSK.value,
            ),
            Fieldset(
                "Sign in with an IAM user and password",
                "iam_username",
                "domain_name",
                "password",
                data_auth_method=AuthMethod.PASSWORD.value,
            ),
            Fieldset("Endpoints (optional)", "vpcep_endpoint", "iam_endpoint"),
        )

    def clean_project_id(self) -> str:
        return str(self.cleaned_data["project_id"]).strip().lower()

    def clean_vpcep_endpoint(self) -> str:
        value = str(self.cleaned_data["vpcep_endpoint"]).strip()
        return validate_endpoint_override(value) if value else ""

    def clean_iam_endpoint(self) -> str:
        value = str(self.cleaned_data["iam_endpoint"]).strip()
        return validate_endpoint_override(value) if value else ""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.editing and data.get("environment") == Environment.PRODUCTION:
            data["requires_approval"] = True  # a new production account starts with four eyes on
        cloud, region = data.get("cloud"), data.get("region")
        if cloud and region and region not in REGIONS.get(cloud, []):
            self.add_error("region", "This region does not belong to the chosen cloud.")
        if data.get("auth_method") == AuthMethod.AKSK:
            self._clean_aksk(data)
        elif data.get("auth_method") == AuthMethod.PASSWORD:
            self._clean_password(data)
        return data

    def _secret_required(self, data: dict[str, Any]) -> bool:
        return not self.editing or self.instance.auth_method != data.get("auth_method")

    def _clean_aksk(self, data: dict[str, Any]) -> None:
        data["access_key"] = (data.get("access_key") or "").strip() or self._stored_access_key
        if not data["access_key"]:
            self.add_error("access_key", "An access key ID is required.")
        if not data.get("secret_key") and self._secret_required(data):
            self.add_error("secret_key", "A secret access key is required.")
        data["iam_username"] = data["domain_name"] = ""

    def _clean_password(self, data: dict[str, Any]) -> None:
        for name, label in (
            ("iam_username", "An IAM user name"),
            ("domain_name", "The account (domain) name"),
        ):
            if not (data.get(name) or "").strip():
                self.add_error(name, f"{label} is required.")
        if not data.get("password") and self._secret_required(data):
            self.add_error("password", "The IAM password is required.")
        data["access_key"] = ""

    @property
    def new_secret(self) -> str:
        data = self.cleaned_data
        key = "secret_key" if data.get("auth_method") == AuthMethod.AKSK else "password"
        return str(data.get(key) or "")

    @property
    def identity_changed(self) -> bool:
        changed = set(self.changed_data) & set(IDENTITY_FIELDS)
        return bool(changed) or self.cleaned_data.get("access_key") != self._stored_access_key
