"""Imports run only downward (design.md §1): the layers are checked on the source, not trusted.

cloud (HTTP and the typed service) ← credentials / audit ← changes (the guarantees of every change to
the cloud) ← endpoints (browsing and the edit flow);
the simulator is a separate program the dashboard never imports (only the demo launcher starts it).
policies (the guardrails) sits beside credentials / audit: changes and endpoints ask it, never the reverse.
notify (webhooks and e-mail of audit events) sits beside credentials / audit: it reads them, the
audit log only sends it a signal; its webhook POST is the one outbound HTTP outside cloud (a webhook
is not the cloud's API: design.md §1).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "vpcepadmin"

# package → the vpcepadmin packages it must never import
FORBIDDEN = {
    "vpcepadmin.cloud": (
        "vpcepadmin.credentials",
        "vpcepadmin.audit",
        "vpcepadmin.endpoints",
        "vpcepadmin.simulator",
    ),
    "vpcepadmin.audit": (
        "vpcepadmin.changes",
        "vpcepadmin.endpoints",
        "vpcepadmin.simulator",
        "vpcepadmin.notify",
    ),
    "vpcepadmin.notify": ("vpcepadmin.changes", "vpcepadmin.endpoints", "vpcepadmin.simulator"),
    "vpcepadmin.changes": ("vpcepadmin.endpoints", "vpcepadmin.simulator"),
    "vpcepadmin.credentials": ("vpcepadmin.endpoints", "vpcepadmin.simulator"),
    "vpcepadmin.endpoints": ("vpcepadmin.simulator",),
    "vpcepadmin.policies": ("vpcepadmin.changes", "vpcepadmin.endpoints", "vpcepadmin.simulator"),
    "vpcepadmin.simulator": ("vpcepadmin.credentials", "vpcepadmin.audit", "vpcepadmin.endpoints"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _violations() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        for package, banned in FORBIDDEN.items():
            if module != package and not module.startswith(package + "."):
                continue
            found += [
                f"{module} imports {name}"
                for name in _imports(path)
                if any(name == b or name.startswith(b + ".") for b in banned)
            ]
    return found


def test_imports_run_only_downward() -> None:
    assert _violations() == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from vpcepadmin.endpoints.restore import restorable\n", ["vpcepadmin.endpoints.restore"]),
        ("import vpcepadmin.endpoints.versioning\n", ["vpcepadmin.endpoints.versioning"]),
        ("from vpcepadmin.endpoints import versioning\n", ["vpcepadmin.endpoints"]),
    ],
)
def test_the_check_sees_every_spelling_of_an_upward_import(tmp_path, source, expected) -> None:
    path = tmp_path / "probe.py"
    path.write_text(source)
    assert [name for name in _imports(path) if name.startswith("vpcepadmin.endpoints")][:1] == expected


def test_only_the_demo_launcher_starts_the_simulator() -> None:
    importers = {
        _module_name(path)
        for path in PACKAGE.rglob("*.py")
        if not _module_name(path).startswith("vpcepadmin.simulator")
        and any(name.startswith("vpcepadmin.simulator") for name in _imports(path))
    }
    assert importers <= {"vpcepadmin.management.commands.rundemo"}
