"""The HTTP service: :func:`create_app` puts a :class:`~peergrid.platform.service.LiveMarket`
behind FastAPI (OpenAPI at ``/docs``).

Roles, each proved by a signature (:mod:`peergrid.api.auth`): a **member** signs its orders and
withdrawals, and reads its own orders, quotes, trades, bills and balance with a read token; the
**DSO** reads results, trades, charges and the feeder's state (never an order's bid) and updates
the feeder map; a **meter** signs its household's readings. ``GET /slots`` and ``GET /trades``
are for any member or the DSO. Errors are 4xx with ``{"detail": reason}`` and nothing recorded:
401 a signature that does not recover or is not the claimed signer's, 403 a signer without the
role, 404 an unknown order, 409 a reused nonce, a second reading, or a request outside its
window, 422 a body that does not parse or an unknown bus.
"""

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Select, func, select

import peergrid.api.schemas as s
import peergrid.platform.service.readmodel as db
from peergrid.api.auth import Domain, check_signer, recover, token_signer
from peergrid.api.dashboard import dashboard_router
from peergrid.api.statuses import status_of
from peergrid.core.errors import PeergridError
from peergrid.grid.feeders import Feeder
from peergrid.platform.service.market import LiveMarket, Member

MAX_PAGE = 500
T = TypeVar("T")


def create_app(
    market: LiveMarket, *, tick_s: float | None = None, feeder: Feeder | None = None
) -> FastAPI:
    """The service of ``market``; with ``tick_s`` the clock is followed in a background
    thread for as long as the app runs (without it, the caller calls ``market.advance()``).
    The dashboard at ``/`` draws ``feeder`` (the market's) when given."""
    domain = Domain(market.chain.chain_id, market.ledger.market.address)
    dso_signer = market.config.dso.lower()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        thread = None
        if tick_s is not None:
            thread = threading.Thread(
                target=market.run_forever, args=(stop, tick_s), name="peergrid-clock", daemon=True
            )
            thread.start()
        try:
            yield
        finally:
            stop.set()
            if thread is not None:
                thread.join(timeout=10)

    app = FastAPI(
        title="peergrid market service",
        summary="A P2P energy market's trading cycle on a clock, settled on an EVM ledger.",
        lifespan=lifespan,
    )
    app.include_router(dashboard_router(market, feeder))

    @app.exception_handler(PeergridError)
    async def _domain_error(_: Request, exc: PeergridError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status_of(exc))

    @app.exception_handler(LookupError)
    async def _missing(_: Request, exc: LookupError) -> JSONResponse:
        return JSONResponse({"detail": str(exc.args[0]) if exc.args else "not found"}, 404)

    # --- who is asking -----------------------------------------------------------------------

    def reader(authorization: Annotated[str | None, Header()] = None) -> str:
        return token_signer(domain, authorization).lower()

    def member_reader(account: Annotated[str, Depends(reader)]) -> Member:
        member = market.by_signer.get(account)
        if member is None:
            raise HTTPException(403, f"{account} is not a member of this market")
        return member

    def dso_reader(account: Annotated[str, Depends(reader)]) -> str:
        if account != dso_signer:
            raise HTTPException(403, "only the DSO's key reads this")
        return account

    def any_reader(account: Annotated[str, Depends(reader)]) -> str:
        if account != dso_signer and account not in market.by_signer:
            raise HTTPException(403, f"{account} is neither a member nor the DSO")
        return account

    def signed_member(claimed: str, recovered: str, what: str) -> Member:
        check_signer(claimed, recovered, what)
        member = market.by_signer.get(recovered.lower())
        if member is None:
            raise HTTPException(403, f"{what}: {recovered} is not a member of this market")
        return member

    # --- market and health --------------------------------------------------------------------

    @app.get("/health", response_model=s.Health, tags=["service"])
    def health() -> JSONResponse:
        """200 when the chain answers, 503 when it does not (the service keeps trying)."""
        down = market.chain_down()
        ok, error = (False, down) if down is not None else (market.healthy, market.last_error)
        body = s.Health(healthy=ok, chain=type(market.chain).__name__, error=error)
        return JSONResponse(body.model_dump(), status_code=200 if ok else 503)

    @app.get("/market", response_model=s.MarketOut, tags=["service"])
    def market_info() -> s.MarketOut:
        """The EIP-712 domain, the clock and the members (their addresses, not their orders)."""
        now = market.clock.minute()
        times = market.times
        return s.MarketOut(
            chain_id=domain.chain_id,
            verifying_contract=domain.verifying_contract,
            domain=domain.as_dict(),
            mechanism=market.config.mechanism,
            slot_minutes=times.slot_minutes,
            quotation_end=times.quotation_end,
            minute=now,
            cycle=times.cycle_of(now),
            phase=times.phase_at(now).value,
            dso=market.config.dso,
            members=[
                s.MemberOut(agent=m.agent, bus=m.bus, address=m.signer, meter=m.meter)
                for m in market.config.members
            ],
        )

    # --- members: orders --------------------------------------------------------------------

    @app.post("/orders", status_code=201, response_model=s.OrderAccepted, tags=["members"])
    def post_order(body: s.OrderIn) -> s.OrderAccepted:
        """A signed order for delivery ``slot``, inside its quotation window; a member's newer
        order for a slot replaces its older one."""
        recovered = recover(domain, "Order", body.signed_message(), body.signature)
        member = signed_member(body.agent, recovered, "order")
        accepted = market.submit(
            member,
            slot=body.slot,
            side=body.side,
            quantity_wh=body.quantity_wh,
            price_micro_per_kwh=body.price_micro_per_kwh,
            bus=body.bus,
            nonce=body.nonce,
            signature=body.signature,
        )
        return s.OrderAccepted(
            order_id=accepted.order_id, slot=accepted.slot, replaced=accepted.replaced
        )

    @app.delete("/orders/{order_id}", status_code=204, tags=["members"])
    def delete_order(order_id: str, body: s.WithdrawalIn) -> None:
        """Withdraw one's own order, signed, inside its slot's quotation window."""
        message = {"agent": body.agent, "orderId": order_id, "nonce": body.nonce}
        recovered = recover(domain, "Withdrawal", message, body.signature)
        member = signed_member(body.agent, recovered, "withdrawal")
        market.withdraw(member, order_id, body.nonce)

    # --- members and the DSO: the cleared slots ---------------------------------------------------

    @app.get("/slots", response_model=s.Page[s.SlotOut], tags=["results"])
    def get_slots(
        _: Annotated[str, Depends(any_reader)],
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> s.Page[s.SlotOut]:
        """The slots cleared on chain, oldest first (``limit``/``offset``; ``next_offset``)."""
        return _page(market, select(db.slots).order_by(db.slots.c.slot), s.SlotOut, limit, offset)

    @app.get("/trades", response_model=s.Page[s.TradeOut], tags=["results"])
    def get_trades(
        _: Annotated[str, Depends(any_reader)],
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
        slot: int | None = None,
    ) -> s.Page[s.TradeOut]:
        """Trades settled on chain in chain order, optionally of one ``slot``."""
        query = select(db.trades).order_by(db.trades.c.id)
        if slot is not None:
            query = query.where(db.trades.c.slot == slot)
        return _page(market, query, s.TradeOut, limit, offset)

    # --- a member's own ---------------------------------------------------------------------

    @app.get("/me/orders", response_model=list[s.OpenOrder], tags=["members"])
    def my_orders(member: Annotated[Member, Depends(member_reader)]) -> list[s.OpenOrder]:
        """One's orders in books not settled yet."""
        return [
            s.OpenOrder(
                order_id=o.id,
                slot=o.slot,
                side=o.side.value,
                quantity_wh=round(o.quantity_kwh * 1000),
                price_micro_per_kwh=round(o.price * 1_000_000),
            )
            for o in market.open_orders(member.agent)
        ]

    @app.get("/me/quotes", response_model=list[s.Quote], tags=["members"])
    def my_quotes(member: Annotated[Member, Depends(member_reader)]) -> list[s.Quote]:
        """The feedback of the matched slots not settled yet: quotes (4.6/4.7) or a message."""
        return [
            s.Quote(
                order_id=f.order_id,
                won=f.won,
                price=f.price,
                quote=dict(f.quote) if f.quote is not None else None,
                message=f.message,
            )
            for f in market.feedback(member.agent)
        ]

    @app.get("/me/trades", response_model=s.Page[s.TradeOut], tags=["members"])
    def my_trades(
        member: Annotated[Member, Depends(member_reader)],
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> s.Page[s.TradeOut]:
        t = db.trades.c
        query = (
            select(db.trades)
            .where((t.buyer == member.agent) | (t.seller == member.agent))
            .order_by(t.id)
        )
        return _page(market, query, s.TradeOut, limit, offset)

    @app.get("/me/bills", response_model=list[s.Bill], tags=["members"])
    def my_bills(member: Annotated[Member, Depends(member_reader)]) -> list[s.Bill]:
        """Each settled slot's trades and meter settlement (4.8/4.9) of the member."""
        t, r = db.trades.c, db.readings.c
        with market.engine.connect() as connection:
            trades = connection.execute(
                select(db.trades)
                .where((t.buyer == member.agent) | (t.seller == member.agent))
                .order_by(t.id)
            ).all()
            readings = {
                row.slot: row
                for row in connection.execute(select(db.readings).where(r.agent == member.agent))
            }
        by_slot: dict[int, list[s.TradeOut]] = {}
        for row in trades:
            by_slot.setdefault(row.slot, []).append(s.TradeOut.model_validate(row._asdict()))
        return [
            s.Bill(
                slot=slot,
                trades=rows,
                reading=s.ReadingOut.model_validate(readings[slot]._asdict())
                if slot in readings
                else None,
            )
            for slot, rows in sorted(by_slot.items())
        ]

    @app.get("/me/balance", response_model=s.Balance, tags=["members"])
    def my_balance(member: Annotated[Member, Depends(member_reader)]) -> s.Balance:
        """The escrow balance as of the last settled slot."""
        return _balance(market, member.agent)

    # --- the DSO --------------------------------------------------------------------------------

    @app.get("/dso/results", response_model=s.DsoResults, tags=["dso"])
    def dso_results(
        _: Annotated[str, Depends(dso_reader)],
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> s.DsoResults:
        """Matched slots (price, case, trades, charges) and the settled ones; no bids."""
        settled = _page(
            market, select(db.slots).order_by(db.slots.c.slot), s.SlotOut, limit, offset
        )
        matched = [
            s.MatchedSlot(
                slot=v.slot,
                price=v.price,
                case=v.case,
                traded_kwh=v.traded_kwh,
                trades=[dict(t) for t in v.trades],
                dso_income=v.dso_income,
                oversupply_kwh=v.oversupply_kwh,
            )
            for v in market.matched_views()
        ]
        return s.DsoResults(matched=matched, settled=settled.items)

    @app.get("/dso/trades", response_model=s.Page[s.TradeOut], tags=["dso"])
    def dso_trades(
        _: Annotated[str, Depends(dso_reader)],
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> s.Page[s.TradeOut]:
        """Every settled trade with its distance charge."""
        return _page(market, select(db.trades).order_by(db.trades.c.id), s.TradeOut, limit, offset)

    @app.get("/dso/balance", response_model=s.Balance, tags=["dso"])
    def dso_balance(_: Annotated[str, Depends(dso_reader)]) -> s.Balance:
        """The DSO's income so far: fees, distance charges and metered deviations."""
        return _balance(market, "dso")

    @app.get("/dso/feeder", response_model=s.FeederState, tags=["dso"])
    def dso_feeder(_: Annotated[str, Depends(dso_reader)]) -> s.FeederState:
        """Members per bus and each bus's last metered net energy."""
        with market.engine.connect() as connection:
            last = connection.execute(select(func.max(db.meter_posts.c.slot))).scalar()
            posts = (
                connection.execute(
                    select(db.meter_posts).where(db.meter_posts.c.slot == last)
                ).all()
                if last is not None
                else []
            )
        bus_of = {m.agent: m.bus for m in market.config.members}
        net: dict[str, int] = {}
        for row in posts:
            net[bus_of[row.agent]] = net.get(bus_of[row.agent], 0) + int(row.net_wh)
        counts: dict[str, int] = {}
        for m in market.config.members:
            counts[m.bus] = counts.get(m.bus, 0) + 1
        return s.FeederState(
            buses=[
                s.FeederBus(bus=b, members=n, last_net_wh=net.get(b))
                for b, n in sorted(counts.items())
            ],
            distance_metric=market.distances.metric if market.distances is not None else None,
        )

    @app.put("/dso/feeder/distances", status_code=204, tags=["dso"])
    def dso_distance(body: s.DistanceUpdate, _: Annotated[str, Depends(dso_reader)]) -> None:
        """Change the path length between two buses (the feeder map after a topology change):
        the next matchings and the contract's distance charges use it."""
        market.set_distance(body.bus_a, body.bus_b, body.metres)

    # --- meters ---------------------------------------------------------------------------------

    @app.post("/readings", status_code=201, tags=["meters"])
    def post_reading(body: s.ReadingIn) -> dict[str, Any]:
        """A meter's signed reading of its household's net energy in a delivered slot."""
        message = {"meter": body.meter, "slot": body.slot, "netWh": body.net_wh}
        recovered = recover(domain, "Reading", message, body.signature)
        check_signer(body.meter, recovered, "reading")
        member = market.by_meter.get(recovered.lower())
        if member is None:
            raise HTTPException(403, f"reading: {recovered} is not a meter of this market")
        market.post_reading(member, body.slot, body.net_wh, body.signature)
        return {"slot": body.slot, "agent": member.agent}

    return app


def _page(
    market: LiveMarket, query: Select[Any], model: Callable[..., T], limit: int, offset: int
) -> s.Page[T]:
    with market.engine.connect() as connection:
        total = int(
            connection.execute(select(func.count()).select_from(query.subquery())).scalar() or 0
        )
        rows = connection.execute(query.limit(limit).offset(offset)).all()
    items = [model(**row._asdict()) for row in rows]
    after = offset + len(items)
    return s.Page[T](
        items=items,
        limit=limit,
        offset=offset,
        total=total,
        next_offset=after if after < total else None,
    )


def _balance(market: LiveMarket, account: str) -> s.Balance:
    with market.engine.connect() as connection:
        value = connection.execute(
            select(db.balances.c.balance_micro).where(db.balances.c.account == account)
        ).scalar()
    return s.Balance(account=account, balance_micro=int(value or 0))
