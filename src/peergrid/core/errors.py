"""One error tree for the whole platform.

Every error a user can cause derives from :class:`PeergridError`; the CLI turns these into a
one-line message and exit status 2. Programming errors stay ordinary Python exceptions.
"""

from __future__ import annotations


class PeergridError(Exception):
    """Base of every domain error raised by peergrid: one line naming what is wrong.

    The command line prints it and exits with status 2; in Python, catch it once::

        try:
            peergrid.run("my-day.toml")
        except peergrid.PeergridError as exc:
            print(exc)
    """


class OrderError(PeergridError, ValueError):
    """An order (or an order set) is malformed: names the order and the field::

    peergrid.clear([{"id": "b1", "side": "buy", "price": 1, "quantity_kwh": -2}])
    # OrderError: order 'b1', field 'quantity_kwh': must be a positive finite number, got -2
    """

    def __init__(self, message: str, *, order_id: str | None = None, field: str | None = None):
        self.order_id = order_id
        self.field = field
        where = []
        if order_id is not None:
            where.append(f"order {order_id!r}")
        if field is not None:
            where.append(f"field {field!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ScenarioError(PeergridError, ValueError):
    """A scenario file is malformed: names the field and what is wrong::

    peergrid.Scenario().replace(time={"days": 0})
    # ScenarioError: time.days: Input should be greater than or equal to 1 (got 0)
    """


class GridError(PeergridError):
    """A feeder cannot be built or a power-flow input is malformed::

    peergrid.clear(orders, mechanism="dpda+score", feeder="no-such-feeder")
    # GridError: unknown feeder 'no-such-feeder' (known: case33bw, cigre-lv, ...)
    """


class LedgerError(PeergridError):
    """A ledger call failed (reverted, or refused before it was sent); names the call::

    try:
        chain.transact(member, market, "reveal", order, salt)
    except peergrid.LedgerError as exc:
        exc.call, exc.reason  # "BatchMarket.reveal", the contract's revert reason
    """

    def __init__(self, call: str, reason: str):
        self.call = call
        self.reason = reason
        super().__init__(f"{call}: {reason}")
