"""The public names of ``peergrid`` are pinned: changing them is a deliberate act."""

import peergrid


def test_public_names() -> None:
    assert sorted(peergrid.__all__) == [
        "Clearing",
        "GridError",
        "LedgerError",
        "Order",
        "OrderError",
        "PeergridError",
        "ScenarioError",
        "Side",
        "Trade",
        "__version__",
    ]
    for name in peergrid.__all__:
        assert hasattr(peergrid, name)


def test_errors_share_one_root() -> None:
    for name in ("GridError", "LedgerError", "OrderError", "ScenarioError"):
        assert issubclass(getattr(peergrid, name), peergrid.PeergridError)
