"""Drive the edit flow through the test client as a browser without JavaScript would."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.test import Client

Row = tuple[Any, Any, Any]


@dataclass
class Editor:
    """One operator editing one service: ``load()`` then ``submit()`` steps with form data."""

    client: Client
    account_pk: int
    service_id: str
    version: str = ""
    values: dict[str, Any] | None = None
    reviewed: str = ""  # the signed values of the last review, which "Apply changes" sends back

    @property
    def url(self) -> str:
        return f"/credentials/{self.account_pk}/services/{self.service_id}/edit/"

    def load(self, query: str = "") -> Any:
        response = self.client.get(self.url + query)
        forms = response.context["forms"]
        self.version = forms.form.initial["version"]
        initial = forms.form.initial
        self.values = {
            name: initial.get(name)
            for name in (
                "service_name",
                "description",
                "approval_enabled",
                "port_id",
                "vip_port_id",
                "tcp_proxy",
                "restored_from",
            )
        }
        self.values["ports"] = [
            (r["client_port"], r["server_port"], r.get("protocol", "TCP")) for r in forms.formset.initial
        ]
        return response

    def data(
        self, action: str = "review", *, ports: list[Row] | None = None, reason: str = "", **fields: Any
    ):
        """POST data: the loaded values with ``fields`` and ``ports`` replaced."""
        assert self.values is not None, "load() first"
        values = {**self.values, **fields}
        rows = self.values["ports"] if ports is None else ports
        data: dict[str, Any] = {"version": self.version, "action": action, "reason": reason}
        if action in ("apply", "edit", "request"):
            data["reviewed"] = self.reviewed
        for name, value in values.items():
            if name == "ports" or value is None:
                continue
            if name == "approval_enabled":
                if value:
                    data[name] = "on"
                continue
            data[name] = value
        data |= {
            "ports-TOTAL_FORMS": str(len(rows)),
            "ports-INITIAL_FORMS": "0",
            "ports-MIN_NUM_FORMS": "1",
            "ports-MAX_NUM_FORMS": "200",
        }
        for index, (client_port, server_port, protocol) in enumerate(rows):
            data |= {
                f"ports-{index}-client_port": client_port,
                f"ports-{index}-server_port": server_port,
                f"ports-{index}-protocol": protocol,
            }
        return data

    def submit(
        self, action: str = "review", *, htmx: bool = False, raw: dict[str, Any] | None = None, **kwargs: Any
    ):
        data = raw if raw is not None else self.data(action, **kwargs)
        headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
        # As a browser sends a form without files.
        body = urlencode({key: str(value) for key, value in data.items()})
        response = self.client.post(
            self.url, body, content_type="application/x-www-form-urlencoded", **headers
        )
        if response.context is not None and response.context.get("reviewed_token"):
            self.reviewed = response.context["reviewed_token"]
        return response

    def apply(self, reason: str = "Ticket OPS-1", **kwargs: Any):
        """Review then apply (as the pages would), returning the apply response."""
        review = self.submit("review", **kwargs)
        assert review.templates[0].name == "endpoints/review.html", review.content.decode()[:2000]
        return self.submit("apply", reason=reason, **kwargs)
