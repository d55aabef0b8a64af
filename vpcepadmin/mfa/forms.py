"""The one input of the second factor: a code."""

from __future__ import annotations

from django import forms

# The name django-axes masks too (settings.AXES_SENSITIVE_PARAMETERS): a code is never logged.
CODE_FIELD = "otp_token"


class CodeForm(forms.Form):
    """Six digits from the authenticator app, or a recovery code (spaces and dashes are ignored)."""

    otp_token = forms.CharField(
        label="Code",
        max_length=40,
        strip=True,
        error_messages={"required": "Enter the code."},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )

    @property
    def code(self) -> str:
        return str(self.cleaned_data[CODE_FIELD])
