"""Forms of the endpoints app. The list filters live here; the edit form comes with the edit flow."""

from __future__ import annotations

from django import forms

from vpcepadmin.endpoints.services import DEFAULT_SORT, SORTS, STATUSES, ServiceQuery


class ServiceFilterForm(forms.Form):
    """The list page's query string; anything invalid falls back to the default."""

    q = forms.CharField(label="Search names", required=False, max_length=128, strip=True)
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "Any status"), *[(s, s.capitalize()) for s in STATUSES]]
    )
    sort = forms.ChoiceField(
        label="Sort", required=False, choices=[(key, label) for key, (_f, _d, label) in SORTS.items()]
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000)

    def query(self) -> ServiceQuery:
        self.is_valid()  # invalid fields are simply absent from cleaned_data
        data = self.cleaned_data
        return ServiceQuery(
            q=data.get("q") or "",
            status=data.get("status") or "",
            sort=data.get("sort") or DEFAULT_SORT,
            page=data.get("page") or 1,
        )
