"""The rows of the port-mapping formset as HTML, built in Python.

A service may hold 200 mappings: through the template engine each row cost a dozen bound-field
lookups, localisations and escapes (140 ms for 200 rows, most of the edit page). Here each row is
one ``str.format`` over values read once and escaped with ``html.escape`` (Django's
``format_html`` costs more than the template did; ``bench/page_profile.py`` measures it). The
rows sit in ``templates/endpoints/_port_rows.html``; every value is escaped here (``_e``), labels
and numbers are ours, and only HTML built here is marked safe.
"""

from __future__ import annotations

from html import escape
from typing import Any

from django.forms import Form
from django.utils.safestring import SafeString, mark_safe

ROW = (
    '<tr class="port-row{row_class}" id="port-row-{index}">'
    '<th scope="row">{number}</th>'
    "<td>{client}</td><td>{server}</td>"
    '<td><label class="visually-hidden" for="{protocol_id}">Protocol, row {number}</label>'
    '<select name="{protocol_name}" id="{protocol_id}" class="form-select form-select-sm{protocol_invalid}"'
    "{protocol_described}>{options}</select>{protocol_errors}{row_errors}</td>"
    '<td><button type="submit" name="action" value="remove:{index}" class="btn btn-sm btn-outline-danger"'
    ' formnovalidate hx-post="{action}" hx-target="#port-mappings" hx-swap="outerHTML"'
    ' aria-label="Remove row {number}">Remove</button></td></tr>'
)
PORT = (
    '<label class="visually-hidden" for="{id}">{label}, row {number}</label>'
    '<input type="text" inputmode="numeric" name="{name}" id="{id}" value="{value}"'
    ' class="form-control form-control-sm{invalid}"{described}{autofocus}>{errors}'
)
ERROR = '<div class="invalid-feedback d-block" id="{}">{}</div>'


def _e(value: Any) -> str:
    """Escaped for an HTML attribute or text (what the template engine's autoescape does)."""
    return escape("" if value is None else str(value), quote=True)


def _errors(field_id: str, errors: list[str]) -> str:
    return "".join(ERROR.format(_e(f"{field_id}_error{i}"), _e(e)) for i, e in enumerate(errors))


def _described(field_id: str, errors: list[str]) -> str:
    if not errors:
        return ""
    ids = " ".join(f"{field_id}_error{i}" for i in range(len(errors)))
    return f' aria-invalid="true" aria-describedby="{_e(ids)}"'


def _port(form: Form, name: str, label: str, number: int, autofocus: bool) -> str:
    bound = form[name]
    field_id = bound.auto_id
    errors = [str(error) for error in form.errors.get(name, ())]
    return PORT.format(
        id=_e(field_id),
        label=label,
        number=number,
        name=_e(bound.html_name),
        value=_e(bound.value()),
        invalid=" is-invalid" if errors else "",
        described=_described(field_id, errors),
        autofocus=" autofocus" if autofocus else "",
        errors=_errors(field_id, errors),
    )


def _options(protocols: tuple[str, ...], chosen: str) -> str:
    return "".join(
        f'<option value="{_e(p)}"{" selected" if p == chosen else ""}>{_e(p)}</option>' for p in protocols
    )


def port_rows(formset: Any, action: str, focus_last: bool = False) -> list[SafeString]:
    """Every row of ``formset`` (bound or not), with its errors; ``action``: the form's URL."""
    protocols: tuple[str, ...] = formset.protocols
    forms = formset.forms
    action = _e(action)
    rows = []
    for index, form in enumerate(forms):
        number = index + 1
        protocol = form["protocol"]
        protocol_id = protocol.auto_id
        protocol_errors = [str(error) for error in form.errors.get("protocol", ())]
        row_errors = [str(error) for error in form.non_field_errors()]
        value = protocol.value()
        html = ROW.format(
            row_class=" table-danger" if form.errors else "",
            index=index,
            number=number,
            client=_port(form, "client_port", "Client port", number, focus_last and number == len(forms)),
            server=_port(form, "server_port", "Server port", number, False),
            protocol_id=_e(protocol_id),
            protocol_name=_e(protocol.html_name),
            protocol_invalid=" is-invalid" if protocol_errors else "",
            protocol_described=_described(protocol_id, protocol_errors),
            options=_options(protocols, "" if value is None else str(value)),
            protocol_errors=_errors(protocol_id, protocol_errors),
            row_errors=_errors(f"{protocol_id}_row", row_errors),
            action=action,
        )
        rows.append(mark_safe(html))  # noqa: S308  (every value above is escaped by _e)
    return rows


DIFF_ROW = '<tr class="diff-{0}"><td>{0}</td><td>{1}</td><td>{2}</td><td>{3}</td></tr>'
TABLE_ROW = "<tr><td>{}</td><td>{}</td><td>{}</td></tr>"


def _cells(mapping: Any) -> tuple[str, str, str]:
    """A mapping's three cells, escaped; ``mapping`` is a ``PortMapping`` or its API dict."""
    if isinstance(mapping, dict):
        values = (mapping.get("client_port"), mapping.get("server_port"), mapping.get("protocol"))
    else:
        values = (mapping.client_port, mapping.server_port, mapping.protocol)
    return _e(values[0]), _e(values[1]), _e(values[2])


def diff_rows(ports: Any) -> SafeString:
    """The rows of a port-mapping diff: added, removed, then unchanged ones, each saying which."""
    groups = (("added", ports.added), ("removed", ports.removed), ("unchanged", ports.unchanged))
    html = "\n".join(DIFF_ROW.format(kind, *_cells(m)) for kind, mappings in groups for m in mappings)
    return mark_safe(html)  # noqa: S308  (every value is escaped by _cells)


def table_rows(ports: Any) -> SafeString:
    """One ``<tr>`` per port mapping: client port, server port, protocol."""
    return mark_safe("".join(TABLE_ROW.format(*_cells(m)) for m in ports))  # noqa: S308  (escaped by _cells)
