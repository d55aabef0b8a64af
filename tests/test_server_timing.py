"""VPCEPADMIN_SERVER_TIMING: durations per response for operators' developer tools and bench/load.py."""

from __future__ import annotations

import re

from django.test import override_settings

TIMING = re.compile(
    r'^cloud;dur=(?P<cloud>[0-9.]+);desc="(?P<calls>\d+) calls", '
    r'db;dur=(?P<db>[0-9.]+);desc="(?P<queries>\d+) queries", app;dur=(?P<app>[0-9.]+)$'
)


def test_off_by_default(operator_client, account) -> None:
    assert "Server-Timing" not in operator_client.get("/")


@override_settings(SERVER_TIMING=True)
def test_a_page_says_how_long_the_cloud_the_database_and_the_whole_took(
    operator_client, account, simulator
) -> None:
    simulator.control.add_fault(action="latency", seconds=0.05, match={"path": "^/v1/"})
    response = operator_client.get(f"/credentials/{account.pk}/services/")
    found = TIMING.match(response["Server-Timing"])
    assert found is not None, response["Server-Timing"]
    assert found["calls"] == "1" and float(found["cloud"]) >= 50
    assert int(found["queries"]) >= 1
    assert float(found["app"]) >= float(found["cloud"]) + float(found["db"])


@override_settings(SERVER_TIMING=True)
def test_a_page_without_cloud_calls_counts_none(operator_client, account) -> None:
    found = TIMING.match(operator_client.get("/credentials/")["Server-Timing"])
    assert found is not None and found["calls"] == "0"
