"""Every input rule of the VPCEP v1 API, as pure functions that raise the documented ``ApiError``.

Sources: vpcep-api.md §2 (create), §3 (list), §5 (modify), §7 (connections, whitelist), §13 (the
simulator's checklist); error codes and messages from §9.2 via ``errors.vpcep_error``.
Rules that need the cloud's state (quota, port clashes with other services, status) live in the
handlers; ``check_port_conflicts`` is the pure half of the cross-service rule.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from vpcepadmin.simulator.errors import vpcep_error
from vpcepadmin.simulator.records import PortMapping, Service

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
PROJECT_ID_RE = re.compile(r"^[0-9a-fA-F]{32}$")
# NOTE: the HWC Terraform validator's regex; OTC Terraform says 1..16 (§13).
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{0,16}$")
DIGITS_RE = re.compile(r"^[0-9]+$")
TAG_KEY_RE = re.compile(r"^[\w .:=+\-@]+$")
TAG_VALUE_RE = re.compile(r"^[\w .:=+\-@/]*$")
DOMAIN_PERMISSION_RE = re.compile(r"^iam:domain::[A-Za-z0-9*]{1,64}$")
# NOTE: the org path may hold letters, digits and "/-*?" (1..1024 characters); the charset is the SDK's
# model text (huaweicloudsdkvpcep AddOrRemoveServicePermissionsRequestBody), the length §7.2/§12.
ORG_PERMISSION_RE = re.compile(r"^organizations:orgPath::[A-Za-z0-9/*?-]{1,1024}$")

SERVER_TYPES = ("LB", "VM", "VIP", "BMS")
TCP_PROXY_VALUES = ("close", "toa_open", "proxy_open", "open", "proxy_vni")
SORT_KEYS = {
    "create_at": "created_at",
    "created_at": "created_at",
    "update_at": "updated_at",
    "updated_at": "updated_at",
}
MAX_PORTS = 200
MAX_DESCRIPTION = 128
MAX_TAGS = 20


@dataclass
class NewService:
    """A create request that passed every rule that does not depend on state."""

    port_id: str
    vpc_id: str
    server_type: str
    ports: list[PortMapping]
    name: str = ""
    approval_enabled: bool = True
    description: str = ""
    tcp_proxy: str = "close"
    service_type: str = "interface"
    pool_id: str = ""
    enable_policy: bool = False
    tags: list[dict[str, str]] | None = None


@dataclass
class ServiceChanges:
    """A modify request; None means "leave unchanged" (§5: all fields optional)."""

    approval_enabled: bool | None = None
    name: str | None = None
    ports: list[PortMapping] | None = None
    port_id: str | None = None
    tcp_proxy: str | None = None
    description: str | None = None


class Listed(Protocol):
    """What a list call can order: an id and the two timestamps."""

    @property
    def id(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...


ListedT = TypeVar("ListedT", bound=Listed)


@dataclass(frozen=True)
class Page:
    """Paging and ordering of a list call."""

    limit: int
    offset: int
    sort_key: str
    descending: bool

    def apply(self, records: Iterable[ListedT]) -> list[ListedT]:
        """Order by the sort key (ties by id, ascending, so pages are stable), then cut the window."""
        ordered = sorted(records, key=lambda record: record.id)
        ordered.sort(key=lambda record: getattr(record, self.sort_key), reverse=self.descending)
        return ordered[self.offset : self.offset + self.limit]


def parse_body(body: bytes) -> dict[str, Any]:
    """The JSON object of a POST/PUT body."""
    if not body.strip():
        # NOTE: documented as HTTP 504 EndPoint.0011 (§5, §9.2); a client must not retry it forever.
        raise vpcep_error("EndPoint.0011")
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise vpcep_error("EndPoint.0002") from exc
    if not isinstance(document, dict):
        raise vpcep_error("EndPoint.0002")
    return document


def _optional(document: dict[str, Any], key: str, kind: type) -> Any:
    """The value of ``key`` (None when absent or null); wrong JSON type → EndPoint.0002."""
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise vpcep_error("EndPoint.0002")
    return value


def _name(document: dict[str, Any]) -> str | None:
    name: str | None = _optional(document, "service_name", str)
    if name is not None and not NAME_RE.fullmatch(name):
        raise vpcep_error("EndPoint.3076")
    return name


def _description(document: dict[str, Any]) -> str | None:
    description: str | None = _optional(document, "description", str)
    if description is not None and (len(description) > MAX_DESCRIPTION or {"<", ">"} & set(description)):
        raise vpcep_error("EndPoint.0002")
    return description


def _tcp_proxy(document: dict[str, Any]) -> str | None:
    value: str | None = _optional(document, "tcp_proxy", str)
    if value is not None and value not in TCP_PROXY_VALUES:
        raise vpcep_error("EndPoint.0002")
    return value


def _port_id(value: object) -> str:
    if not isinstance(value, str) or not UUID_RE.fullmatch(value):
        raise vpcep_error("EndPoint.3003")
    return value


def validate_create(document: dict[str, Any]) -> NewService:
    """Check a create body (§2, §13)."""
    if document.get("port_id") is None or document.get("server_type") is None:
        raise vpcep_error("EndPoint.0002")
    if not document.get("vpc_id"):
        raise vpcep_error("EndPoint.2011")
    server_type = document["server_type"]
    if not isinstance(server_type, str) or server_type not in SERVER_TYPES:
        raise vpcep_error("EndPoint.3021")
    port_id = _port_id(document["port_id"])
    vpc_id = document["vpc_id"]
    if not isinstance(vpc_id, str) or not UUID_RE.fullmatch(vpc_id):
        raise vpcep_error("EndPoint.0020")
    ports = validate_ports(document.get("ports"))
    service_type = _optional(document, "service_type", str) or "interface"
    if service_type != "interface":
        # NOTE: only interface services are creatable by users (§2); the code is inferred (§13).
        raise vpcep_error("EndPoint.0002")
    approval = _optional(document, "approval_enabled", bool)
    return NewService(
        port_id=port_id,
        vpc_id=vpc_id,
        server_type=server_type,
        ports=ports,
        name=_name(document) or "",
        approval_enabled=True if approval is None else approval,
        description=_description(document) or "",
        tcp_proxy=_tcp_proxy(document) or "close",
        service_type=service_type,
        pool_id=_optional(document, "pool_id", str) or "",
        enable_policy=bool(_optional(document, "enable_policy", bool)),
        tags=validate_tags(document.get("tags")),
    )


def validate_update(document: dict[str, Any], protocols: tuple[str, ...] = ("TCP",)) -> ServiceChanges:
    """Check a modify body (§5); unknown keys are ignored, absent or null keys mean "unchanged"."""
    if document.get("port_id") is not None and document.get("ip") is not None:
        raise vpcep_error("EndPoint.3052")
    port_id = document.get("port_id")
    return ServiceChanges(
        approval_enabled=_optional(document, "approval_enabled", bool),
        name=_name(document),
        ports=None if document.get("ports") is None else validate_ports(document["ports"], protocols),
        port_id=None if port_id is None else _port_id(port_id),
        tcp_proxy=_tcp_proxy(document),
        description=_description(document),
    )


def validate_ports(value: object, protocols: tuple[str, ...] = ("TCP",)) -> list[PortMapping]:
    """1..200 mappings, ports 1..65535, a protocol of ``protocols``, no repeated (client_port, protocol)."""
    if value is None:
        raise vpcep_error("EndPoint.2028")
    if not isinstance(value, list):
        raise vpcep_error("EndPoint.0002")
    if not value:
        raise vpcep_error("EndPoint.2028")
    if len(value) > MAX_PORTS:
        raise vpcep_error("EndPoint.3074")
    mappings = [_port_mapping(item, protocols) for item in value]
    seen: set[tuple[int, str]] = set()
    for mapping in mappings:
        key = (mapping.client_port, mapping.protocol)
        if key in seen:
            # NOTE: "no duplicate mappings in one service" (§2), identical rows included (§13).
            raise vpcep_error("EndPoint.3044")
        seen.add(key)
    return mappings


def _port_mapping(item: object, protocols: tuple[str, ...]) -> PortMapping:
    if not isinstance(item, dict):
        raise vpcep_error("EndPoint.0002")
    # NOTE: protocol is optional with default TCP (§2); an explicit null or "" counts as missing.
    protocol = item.get("protocol", "TCP")
    if item.get("client_port") is None or item.get("server_port") is None or protocol in (None, ""):
        raise vpcep_error("EndPoint.2028")
    ports = (item["client_port"], item["server_port"])
    if any(not isinstance(port, int) or isinstance(port, bool) for port in ports):
        raise vpcep_error("EndPoint.0002")
    if not isinstance(protocol, str):
        raise vpcep_error("EndPoint.0002")
    if any(not 1 <= port <= 65535 for port in ports):
        raise vpcep_error("EndPoint.3043")
    if protocol not in protocols:
        # NOTE: TCP only, as the API docs and the SDK say; some product pages also allow UDP (§15.5).
        raise vpcep_error("EndPoint.3075")
    return PortMapping(ports[0], ports[1], protocol)


def check_port_conflicts(ports: Sequence[PortMapping], port_id: str, others: Iterable[Service]) -> None:
    """Services sharing a ``port_id`` must not repeat a (server_port, protocol) pair (§2) → 3044."""
    wanted = {(mapping.server_port, mapping.protocol) for mapping in ports}
    for other in others:
        if other.port_id == port_id and wanted & {(m.server_port, m.protocol) for m in other.ports}:
            raise vpcep_error("EndPoint.3044")


def validate_tags(value: object) -> list[dict[str, str]] | None:
    """Tag rules of §13 (newer SDK limits: key 1..128, value 0..255, at most 20)."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(tag, dict) for tag in value):
        raise vpcep_error("EndPoint.0002")
    if len(value) > MAX_TAGS:
        raise vpcep_error("EndPoint.3069")
    keys: set[str] = set()
    for tag in value:
        key, tag_value = tag.get("key"), tag.get("value", "")
        if not key:
            raise vpcep_error("EndPoint.3066")
        if not isinstance(key, str) or not isinstance(tag_value, str):
            raise vpcep_error("EndPoint.0002")
        if len(key) > 128:
            raise vpcep_error("EndPoint.3072")
        if len(tag_value) > 255:
            raise vpcep_error("EndPoint.3073")
        if key.startswith("_sys_") or not TAG_KEY_RE.fullmatch(key) or not TAG_VALUE_RE.fullmatch(tag_value):
            raise vpcep_error("EndPoint.3068")
        if key in keys:
            raise vpcep_error("EndPoint.3067")
        keys.add(key)
    return [{"key": tag["key"], "value": tag.get("value", "")} for tag in value]


def _integer(value: str | None, default: int, low: int, high: int, code: str) -> int:
    if value is None:
        return default
    if not DIGITS_RE.fullmatch(value) or not low <= int(value) <= high:
        raise vpcep_error(code)
    return int(value)


def page(
    params: dict[str, str | None], *, max_limit: int = 1000, sort_keys: Iterable[str] = tuple(SORT_KEYS)
) -> Page:
    """``limit`` 1..max (default 10), ``offset`` ≥ 0, ``sort_key`` and ``sort_dir`` (§3, §13).

    Both sort-key spellings are accepted (``create_at``/``created_at``, ``update_at``/``updated_at``,
    §15.2). An empty parameter counts as absent.
    """
    # NOTE: limit=0 is refused: the schema says min 1 even though the prose says 0..1000 (§15.11).
    limit = _integer(params.get("limit"), 10, 1, max_limit, "EndPoint.0006")
    offset = _integer(params.get("offset"), 0, 0, 2**31 - 1, "EndPoint.0010")
    sort_key = params.get("sort_key") or "created_at"
    if sort_key not in set(sort_keys) | {"created_at"}:
        raise vpcep_error("EndPoint.0017")
    sort_dir = params.get("sort_dir") or "desc"
    if sort_dir not in ("asc", "desc"):
        raise vpcep_error("EndPoint.0018")
    return Page(limit, offset, SORT_KEYS[sort_key], sort_dir == "desc")


def status_filter(value: str | None, allowed: Iterable[str]) -> str | None:
    if value is not None and value not in allowed:
        raise vpcep_error("EndPoint.0019")
    return value


def validate_connection_action(document: dict[str, Any]) -> tuple[str, str]:
    """``{"action": "receive"|"reject", "endpoints": [one id]}`` (§7.1) → (action, endpoint id)."""
    endpoints = document.get("endpoints")
    if not isinstance(endpoints, list) or not all(isinstance(item, str) for item in endpoints):
        raise vpcep_error("EndPoint.0002")
    if len(endpoints) != 1:
        raise vpcep_error("EndPoint.2031")
    action = document.get("action")
    if action not in ("receive", "reject"):
        # NOTE: §9.2 has three "Invalid action." codes: 0007 (generic), 2027 (the 20xx block of the
        # endpoint-side codes that accept/reject answers with: 2013, 2031) and 3035 (paired with 3036
        # "Invalid permissions.", i.e. the whitelist action). No doc ties one to this call; 2027 is
        # the one of the same block.
        raise vpcep_error("EndPoint.2027")
    return str(action), endpoints[0]


def validate_permission_action(document: dict[str, Any]) -> tuple[str, str, list[str]]:
    """``{"permissions": [...], "action": "add"|"remove", "permission_type": ...}`` (§7.2)."""
    permissions = document.get("permissions")
    if not isinstance(permissions, list) or not all(isinstance(item, str) for item in permissions):
        raise vpcep_error("EndPoint.0002")
    if not permissions:
        raise vpcep_error("EndPoint.3036")
    action = document.get("action")
    if action not in ("add", "remove"):
        raise vpcep_error("EndPoint.3035")
    permission_type = document.get("permission_type") or "domainId"
    if permission_type not in ("domainId", "orgPath"):
        raise vpcep_error("EndPoint.0002")
    pattern = DOMAIN_PERMISSION_RE if permission_type == "domainId" else ORG_PERMISSION_RE
    for permission in permissions:
        if permission != "*" and not pattern.fullmatch(permission):
            # NOTE: 3002 "Invalid permission." (§9.2): the 30xx block is the service side, beside
            # 3035/3036/3049 of this very call; 2044 "Invalid whitelist." sits with 2041-2052, the
            # consumer endpoint's own IP whitelist (§8 ``whitelist``), so it is not this rule's code.
            raise vpcep_error("EndPoint.3002")
    return str(action), str(permission_type), list(dict.fromkeys(permissions))
