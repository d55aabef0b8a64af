"""The edit form and the port-mapping formset: every rule of the API, checked before anything is sent.

The rules mirror vpcep-api.md §5 and §13; errors land on the offending field or row. The
cross-service rule (another service on the same backend port) needs the cloud's state and lives
in ``review.check_port_clashes``. Which fields exist and their labels come from ``cloud.editable``.

Only what the operator changed is judged: a value the cloud already holds — a protocol or a
``tcp_proxy`` outside the documented choices, a description another tool wrote — is offered as it
is (``EditShape``) and kept when left untouched, never a reason to refuse an edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.core.validators import RegexValidator

from vpcepadmin.cloud.editable import FIELDS as EDITABLE
from vpcepadmin.cloud.editable import LABELS, SCALAR_NAMES, port_list
from vpcepadmin.cloud.errors import CloudError
from vpcepadmin.cloud.types import DEFAULT_PROTOCOL, PortMapping
from vpcepadmin.policies.rules import Finding
from vpcepadmin.request_values import StrictIntegerField

MAX_MAPPINGS = 200
NAME = RegexValidator(
    r"^[A-Za-z0-9_-]{0,16}\Z", "Use at most 16 letters, digits, underscores (_) or hyphens (-)."
)
UUID_SHAPED = RegexValidator(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z",
    "Enter a port ID in UUID form (8-4-4-4-12 hexadecimal digits).",
)
TCP_PROXY_CHOICES = [
    ("close", "Off (close)"),
    ("toa_open", "TOA (toa_open)"),
    ("proxy_open", "Proxy Protocol (proxy_open)"),
    ("open", "TOA and Proxy Protocol (open)"),
]
PROTOCOLS = (DEFAULT_PROTOCOL,)  # vpcep-api.md §5: TCP; some clouds accept more (kept, see EditShape)


@dataclass(frozen=True)
class EditShape:
    """What the form offers for one service: the documented choices plus whatever the service
    already holds, the VIP field for VIP backends, and the loaded values kept when untouched."""

    show_vip: bool = False
    protocols: tuple[str, ...] = PROTOCOLS
    tcp_proxy_choices: tuple[tuple[str, str], ...] = tuple(TCP_PROXY_CHOICES)
    kept: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls, original: dict[str, Any], *, show_vip: bool, shown: dict[str, Any] | None = None
    ) -> EditShape:
        """The shape for a service loaded with ``original`` values (``shown``: other values the
        form starts with, e.g. restored ones, whose protocols must be offered too)."""
        used = [m.protocol for values in (original, shown or {}) for m in port_list(values.get("ports"))]
        protocols = tuple(dict.fromkeys([*PROTOCOLS, *used]))
        current = original.get("tcp_proxy") or ""
        proxies = tuple(TCP_PROXY_CHOICES)
        if current and current not in dict(proxies):
            proxies += ((current, f"{current} (as set in the cloud)"),)
        kept = {name: original[name] for name in SCALAR_NAMES if name in original}
        return cls(show_vip, protocols, proxies, kept)


def _no_angle_brackets(value: str) -> None:
    if "<" in value or ">" in value:
        raise forms.ValidationError("The description must not contain < or >.")


class EndpointServiceForm(forms.Form):
    """The service's own fields, the signed version it was loaded from, and what it restores."""

    service_name = forms.CharField(
        label=LABELS["service_name"], required=False, max_length=16, validators=[NAME], strip=False,
        help_text="Up to 16 letters, digits, _ or -. The cloud stores it as region.name.id.",
    )  # fmt: skip
    description = forms.CharField(
        label=LABELS["description"], required=False, max_length=128, strip=False, validators=[_no_angle_brackets],
        widget=forms.Textarea(attrs={"rows": 2}), help_text="Up to 128 characters, without < or >.",
    )  # fmt: skip
    approval_enabled = forms.BooleanField(label=LABELS["approval_enabled"], required=False)
    port_id = forms.CharField(label=LABELS["port_id"], max_length=36, validators=[UUID_SHAPED])
    vip_port_id = forms.CharField(label=LABELS["vip_port_id"], required=False, max_length=64)
    tcp_proxy = forms.ChoiceField(label=LABELS["tcp_proxy"], choices=TCP_PROXY_CHOICES, required=False)
    version = forms.CharField(widget=forms.HiddenInput)
    restored_from = StrictIntegerField(widget=forms.HiddenInput, required=False, min_value=1, max_value=2**62)

    def __init__(self, *args: Any, shape: EditShape, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shape = shape
        self.show_vip = shape.show_vip
        self.fields["tcp_proxy"].choices = shape.tcp_proxy_choices  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        """A text field left exactly as the cloud holds it is kept, whatever the form's rules say:
        the operator did not touch it, and the PUT will not carry it."""
        cleaned = super().clean() or {}
        for name, value in self.shape.kept.items():
            if name in self.errors and isinstance(value, str) and self.data.get(name) == value:
                del self.errors[name]
                cleaned[name] = value
        return cleaned


class ReasonForm(forms.Form):
    """The review step's one field: why. Required; kept in the audit log."""

    reason = forms.CharField(
        label="Reason for change",
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required. Up to 200 characters; kept in the audit log.",
        error_messages={"required": "Say why you make this change."},
    )


class _SharedFields(dict[str, forms.Field]):
    """The row form's fields, shared by the up to 200 forms of the formset instead of copied.

    Django deep-copies a form's fields into every instance so that one form may change its own;
    a port-mapping row never does, and the copies were most of what validating 200 rows cost.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> _SharedFields:
        return self


class PortMappingForm(forms.Form):
    client_port = StrictIntegerField(label="Client port", min_value=1, max_value=65535)
    server_port = StrictIntegerField(label="Server port", min_value=1, max_value=65535)
    # A text field judged against the service's own choices (the fields are shared by every row).
    protocol = forms.CharField(label="Protocol", initial=DEFAULT_PROTOCOL, max_length=16)

    def __init__(self, *args: Any, protocols: tuple[str, ...] = PROTOCOLS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.protocols = protocols

    def clean_protocol(self) -> str:
        protocol: str = self.cleaned_data["protocol"]
        if protocol not in self.protocols:
            raise forms.ValidationError(f"Choose {' or '.join(self.protocols)}.")
        return protocol

    def has_changed(self) -> bool:
        # The formset asks this only to skip "empty" extra rows; here a blank row is an error to fix
        # (see get_form_kwargs), never skipped, so the answer is always yes — and computing it for
        # 200 rows was a fifth of their validation time.
        return True


PortMappingForm.base_fields = _SharedFields(PortMappingForm.base_fields)


class BasePortMappingFormSet(forms.BaseFormSet):  # type: ignore[type-arg]
    """1 to 200 rows; no two rows with the same client port and protocol (identical rows included)."""

    @property
    def protocols(self) -> tuple[str, ...]:
        """The protocols a row may use (``form_kwargs``: the service's ``EditShape``)."""
        protocols: tuple[str, ...] = self.form_kwargs.get("protocols", PROTOCOLS)
        return protocols

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        # A blank row is an error to fix or remove, never silently dropped.
        return {**super().get_form_kwargs(index), "empty_permitted": False}

    def clean(self) -> None:
        first_row: dict[tuple[int, str], int] = {}
        for index, form in enumerate(self.forms):
            data = getattr(form, "cleaned_data", {})
            if "client_port" not in data or "protocol" not in data:
                continue
            key = (data["client_port"], data["protocol"])
            if key in first_row:
                form.add_error(
                    "client_port",
                    f"Row {first_row[key] + 1} already maps client port {key[0]}/{key[1]}.",
                )
            else:
                first_row[key] = index

    def mappings(self) -> tuple[PortMapping, ...]:
        return tuple(
            PortMapping(
                f.cleaned_data["client_port"], f.cleaned_data["server_port"], f.cleaned_data["protocol"]
            )
            for f in self.forms
        )


PortMappingFormSet = forms.formset_factory(
    PortMappingForm,
    formset=BasePortMappingFormSet,
    extra=0,
    min_num=1,
    validate_min=True,
    max_num=MAX_MAPPINGS,
    validate_max=True,
    absolute_max=MAX_MAPPINGS,
)
PORTS_PREFIX = "ports"


def rows_from_post(data: Any, limit: int = MAX_MAPPINGS) -> list[dict[str, str]]:
    """The rows as typed (raw strings), for an unbound re-render that shows no errors.

    Reads at most ``limit`` rows whatever TOTAL_FORMS claims, so a tampered count costs nothing.
    """
    try:
        total = int(data.get(f"{PORTS_PREFIX}-TOTAL_FORMS", 0))
    except (TypeError, ValueError):
        total = 0
    rows = []
    for index in range(max(0, min(total, limit))):
        prefix = f"{PORTS_PREFIX}-{index}-"
        rows.append(
            {
                name: str(data.get(prefix + name, ""))[:16]
                for name in ("client_port", "server_port", "protocol")
            }
        )
    return rows


# Cloud error codes that name a field (vpcep-api.md §5, §9.2); the rest go to the top of the form.
FIELD_OF_ERROR_CODE = {
    "EndPoint.3076": "service_name",
    "EndPoint.1003": "service_name",
    "EndPoint.3003": "port_id",
    "EndPoint.3063": "port_id",
    "EndPoint.3042": "port_id",
    "EndPoint.3052": "port_id",
    "EndPoint.3054": "port_id",
    "EndPoint.3051": "vip_port_id",
    "EndPoint.3053": "vip_port_id",
}
PORT_ERROR_CODES = frozenset(
    {"EndPoint.3043", "EndPoint.3044", "EndPoint.3074", "EndPoint.3075", "EndPoint.2028", "EndPoint.3004"}
)
FIELDS = SCALAR_NAMES


class EditForms:
    """The service form and its port-mapping formset, always built and judged together."""

    def __init__(self, form: EndpointServiceForm, formset: Any) -> None:
        self.form = form
        self.formset: BasePortMappingFormSet = formset

    @classmethod
    def initial(
        cls, values: dict[str, Any], version: str, *, shape: EditShape, restored_from: int | None = None
    ) -> EditForms:
        initial = {name: values.get(name, "") for name in FIELDS}
        initial |= {"version": version, "restored_from": restored_from or ""}
        form = EndpointServiceForm(initial=initial, shape=shape)
        rows = list(values.get("ports", []))
        return cls(
            form,
            PortMappingFormSet(initial=rows, prefix=PORTS_PREFIX, form_kwargs={"protocols": shape.protocols}),
        )

    @classmethod
    def bound(cls, data: Any, *, shape: EditShape) -> EditForms:
        form = EndpointServiceForm(data, shape=shape)
        return cls(
            form, PortMappingFormSet(data, prefix=PORTS_PREFIX, form_kwargs={"protocols": shape.protocols})
        )

    @classmethod
    def reviewed(
        cls, values: dict[str, Any], version: str, *, shape: EditShape, restored_from: int | None
    ) -> EditForms:
        """Reviewed values as a bound, validated form: for showing a cloud's error on its field."""
        data = {name: values[name] for name in FIELDS if name in values and name != "approval_enabled"}
        data |= {"version": version, "restored_from": restored_from or ""}
        if values.get("approval_enabled"):
            data["approval_enabled"] = "on"
        ports = values.get("ports", [])
        data |= {f"{PORTS_PREFIX}-TOTAL_FORMS": len(ports), f"{PORTS_PREFIX}-INITIAL_FORMS": len(ports)}
        for index, row in enumerate(ports):
            data |= {
                f"{PORTS_PREFIX}-{index}-{name}": row[name]
                for name in ("client_port", "server_port", "protocol")
            }
        forms = cls.bound(data, shape=shape)
        forms.is_valid()
        return forms

    @classmethod
    def retyped(cls, data: Any, *, shape: EditShape, rows: list[dict[str, str]]) -> EditForms:
        """An unbound re-render of what was typed (rows added or removed): no error is shown."""
        initial = {name: data.get(name, "") for name in (*FIELDS, "version", "restored_from")}
        initial["approval_enabled"] = data.get("approval_enabled") in ("on", "true", "True", "1")
        form = EndpointServiceForm(initial=initial, shape=shape)
        return cls(
            form,
            PortMappingFormSet(initial=rows, prefix=PORTS_PREFIX, form_kwargs={"protocols": shape.protocols}),
        )

    def is_valid(self) -> bool:
        form_ok = self.form.is_valid()
        return self.formset.is_valid() and form_ok

    def values(self) -> dict[str, Any]:
        """The requested editable values (valid forms only); the VIP field only where it is shown."""
        data = self.form.cleaned_data
        values = {name: data[name] for name in FIELDS if not EDITABLE[name].vip_only or self.form.show_vip}
        values["ports"] = [mapping.to_api() for mapping in self.formset.mappings()]
        return values

    def add_clashes(self, clashes: list[Any]) -> None:
        for clash in clashes:
            self.formset.forms[clash.row].add_error("server_port", clash.message)

    def add_findings(self, findings: list[Finding]) -> None:
        """Put what a policy forbids on the field or row it names (``policies.rules.Finding.field``)."""
        for finding in findings:
            row, _, name = finding.field.removeprefix("ports-").partition("-")
            if finding.field.startswith("ports-") and row.isdigit() and int(row) < len(self.formset.forms):
                self.formset.forms[int(row)].add_error(name or "server_port", finding.message)
            elif finding.field in self.form.fields:
                self.form.add_error(finding.field, finding.message)
            else:
                self.formset.non_form_errors().append(finding.message)

    def add_cloud_error(self, error: CloudError) -> None:
        """Put the cloud's answer on the field its code names, else at the top of the form."""
        error_code = error.error_code
        text = error.explained + (f" ({error_code})" if error_code else "")
        if error_code in PORT_ERROR_CODES:
            self.formset.non_form_errors().append(text)
        else:
            self.form.add_error(FIELD_OF_ERROR_CODE.get(error_code), text)
