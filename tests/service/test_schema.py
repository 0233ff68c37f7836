"""The API against its own OpenAPI schema (schemathesis): no generated request, well formed or
not, signed with any key or none, gets a server error (5xx).

Requests go to the app in process (ASGI). The fast set draws a bounded number of examples per
operation; the slow one many more. Both call a market with a settled slot, an open book and a
matched one, so the read endpoints have rows to page through.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from peergrid.api.app import create_app
from peergrid.platform.service import ManualClock
from tests.service.conftest import open_harness
from tests.service.test_api import BOOK, run_slot

FAST_EXAMPLES = 25
SLOW_EXAMPLES = 400


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    h = open_harness(tmp_path_factory.mktemp("schema") / "run", ManualClock(0.0))
    try:
        run_slot(h, 1)  # slot 1 settled: slots, trades, readings and balances on record
        for k, side, q, p in BOOK:
            assert h.client.post("/orders", json=h.order(k, 4, side, q, p)).status_code == 201
        h.clock.set(50.0)  # slot 4's quotation closes at minute 48: matched, not settled
        h.market.advance()
        for k, side, q, p in BOOK[:2]:  # and an open book for slot 6
            assert h.client.post("/orders", json=h.order(k, 6, side, q, p)).status_code == 201
        yield schemathesis.openapi.from_asgi("/openapi.json", create_app(h.market))
    finally:
        h.service.close()


def check_every_operation(schema: Any, examples: int) -> list[str]:
    """Draw ``examples`` requests per operation (hypothesis, from the schema) and send each;
    the operations checked."""
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def no_server_error(case: Any) -> None:
            case.call_and_validate(checks=[not_a_server_error])

        no_server_error()
        checked.append(operation.label)
    return checked


def test_no_server_error(api_schema: Any) -> None:
    checked = check_every_operation(api_schema, FAST_EXAMPLES)
    assert "POST /orders" in checked and len(checked) >= 17


@pytest.mark.slow
def test_no_server_error_many_examples(api_schema: Any) -> None:
    check_every_operation(api_schema, SLOW_EXAMPLES)


def test_the_schema_lists_every_operation(tmp_path: Path) -> None:
    """The generated tests cover the API: every route of the app is in the schema."""
    h = open_harness(tmp_path / "run", ManualClock(0.0))
    try:
        paths = h.client.get("/openapi.json").json()["paths"]
        operations = {(m.upper(), p) for p, ops in paths.items() for m in ops}
        assert {("POST", "/orders"), ("DELETE", "/orders/{order_id}"), ("POST", "/readings")} <= (
            operations
        )
        assert ("PUT", "/dso/feeder/distances") in operations
        assert len(operations) >= 17
    finally:
        h.service.close()
