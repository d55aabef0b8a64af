"""Secrets never reach a record: the fast check of mask_secrets agrees with the full walk."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from vpcepadmin.audit.recorder import MASK, SECRET_KEYS, _masked, mask_secrets

KEYS = st.one_of(
    st.sampled_from(sorted(SECRET_KEYS)),
    st.sampled_from(
        ["Secret", "PASSWORD", "X-Auth-Token", "to\u212aen", "s\u212a", "port_id", "ports", "protocol"]
    ),
    st.text(max_size=8),
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10), st.floats(allow_nan=False))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_the_fast_check_masks_exactly_what_the_walk_masks(value: Any) -> None:
    assert mask_secrets(value) == _masked(value)


def test_nested_and_case_folded_secret_names_are_masked() -> None:
    body = {"ports": [{"client_port": 1}], "auth": {"identity": {"password": {"user": {"PassWord": "pw"}}}}}
    assert mask_secrets(body)["auth"]["identity"]["password"] == MASK
    assert mask_secrets({"to\u212aen": "t"}) == {"to\u212aen": MASK}  # the Kelvin sign lowercases to k
    assert mask_secrets([{"sk": "x"}, ("a", {"Secret": "y"})]) == [{"sk": MASK}, ["a", {"Secret": MASK}]]
    assert mask_secrets({"token": ""}) == {"token": ""}  # nothing to hide


def test_a_big_change_without_secrets_is_kept_as_it_is() -> None:
    body = {"ports": [{"client_port": i, "server_port": i + 1, "protocol": "TCP"} for i in range(200)]}
    assert mask_secrets(body) is body
