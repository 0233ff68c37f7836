"""The rule that turns an ancillary-service pool's matches into nodal power."""

import pytest

from peergrid.core.errors import GridError
from peergrid.grid.service import ServiceDelivery, service_draws_kw


def test_upward_match_moves_power_from_offeror_to_asker() -> None:
    draws = service_draws_kw("up", [ServiceDelivery(ask_bus=14, offer_bus=13, kwh=3.0)])
    assert draws == {14: 3.0, 13: -3.0}


def test_downward_pool_swaps_the_signs_and_half_hour_doubles_power() -> None:
    deliveries = [ServiceDelivery(5, 4, 1.0), ServiceDelivery(5, 7, 0.5)]
    draws = service_draws_kw("down", deliveries, session_hours=0.5)
    assert draws == {5: -3.0, 4: 2.0, 7: 1.0}


def test_matches_are_net_neutral() -> None:
    deliveries = [ServiceDelivery(a, o, q) for a, o, q in [(1, 2, 0.3), (2, 9, 1.7), (9, 1, 2.0)]]
    assert sum(service_draws_kw("up", deliveries).values()) == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("pool", "hours", "message"), [("sideways", 1.0, "unknown pool"), ("up", 0.0, "session length")]
)
def test_bad_pool_or_session_length(pool: str, hours: float, message: str) -> None:
    with pytest.raises(GridError, match=message):
        service_draws_kw(pool, [], session_hours=hours)
