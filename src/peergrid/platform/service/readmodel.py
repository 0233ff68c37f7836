"""The service's database: what it took in, and the read model of what the chain recorded.

Two kinds of tables, on any SQLAlchemy URL (SQLite by default), the schema made by Alembic
(:func:`migrate`, applied at start):

* **Intake** — what the service accepted and answered ``201`` to, before the chain sees it:
  ``orders`` (signed orders, withdrawn or not), ``nonces`` (each signer's last nonce) and
  ``meter_posts`` (signed readings). An order reaches the chain only when its slot settles
  (commit, reveal and the verified clearing go together), so these rows are the record of an
  order in flight; a restarted service rebuilds its books from them.
* **Read model** — derived from the chain's events and views only (:mod:`.events`): ``slots``
  (each slot cleared on chain), ``trades``, ``readings`` (the meter's settlement of each
  position) and ``balances``. :func:`peergrid.platform.service.events.rebuild` drops these rows
  and writes them again from the chain; the live service writes them with the same function as
  each slot settles, so a rebuild gives the same rows.

Amounts are the chain's integers: energy in Wh, prices in micro-currency per kWh, money in
micro-currency.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    create_engine,
    event,
)

from peergrid.core.errors import PeergridError

metadata = MetaData()

orders = Table(
    "orders",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),  # arrival order
    Column("id", String(80), nullable=False, unique=True),
    Column("slot", Integer, nullable=False, index=True),
    Column("agent", String(64), nullable=False, index=True),
    Column("side", String(4), nullable=False),
    Column("quantity_wh", BigInteger, nullable=False),
    Column("price_micro_per_kwh", BigInteger, nullable=False),
    Column("bus", String(64), nullable=False),
    Column("nonce", BigInteger, nullable=False),
    Column("signature", String(140), nullable=False),
    Column("minute", String(32), nullable=False),  # market minute of arrival (repr of a float)
    Column("withdrawn", Integer, nullable=False, default=0),
)

nonces = Table(
    "nonces",
    metadata,
    Column("signer", String(42), primary_key=True),
    Column("last_nonce", BigInteger, nullable=False),
)

meter_posts = Table(
    "meter_posts",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("slot", Integer, nullable=False),
    Column("agent", String(64), nullable=False),
    Column("net_wh", BigInteger, nullable=False),  # export positive, import negative
    Column("signature", String(140), nullable=False),
    UniqueConstraint("slot", "agent", name="one_reading_per_slot"),
)

slots = Table(
    "slots",
    metadata,
    Column("slot", Integer, primary_key=True),
    Column("price_micro_per_kwh", BigInteger, nullable=False),
    Column("trade_count", Integer, nullable=False),
    Column("energy_wh", BigInteger, nullable=False),
    Column("value_micro", BigInteger, nullable=False),
    Column("fee_micro", BigInteger, nullable=False),
    Column("charge_micro", BigInteger, nullable=False),
    Column("dso_income_micro", BigInteger, nullable=False),
)

trades = Table(
    "trades",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # chain order: slot, fill
    Column("slot", Integer, nullable=False, index=True),
    Column("buyer", String(64), nullable=False, index=True),
    Column("seller", String(64), nullable=False, index=True),
    Column("energy_wh", BigInteger, nullable=False),
    Column("price_micro_per_kwh", BigInteger, nullable=False),
    Column("charge_micro", BigInteger, nullable=False),
)

readings = Table(
    "readings",
    metadata,
    Column("slot", Integer, primary_key=True),
    Column("agent", String(64), primary_key=True),
    Column("reference_wh", BigInteger, nullable=False),
    Column("metered_wh", BigInteger, nullable=False),
    Column("credit_micro", BigInteger, nullable=False),
)

balances = Table(
    "balances",
    metadata,
    Column("account", String(64), primary_key=True),  # an agent, or "dso"
    Column("balance_micro", BigInteger, nullable=False),
)

READ_MODEL = (slots, trades, readings, balances)
"""The tables derived from the chain alone."""

MIGRATIONS = Path(__file__).with_name("migrations")


def open_database(url: str) -> Engine:
    """An engine on ``url`` with the schema migrated to the newest revision."""
    try:
        engine = create_engine(url)
    except Exception as exc:  # SQLAlchemy raises several types for a bad URL
        raise PeergridError(
            f"--db {url!r} is not a database URL SQLAlchemy can open: {exc}"
        ) from exc
    if engine.dialect.name == "sqlite":
        # Requests run in a thread pool: one connection at a time writes, the others wait.
        @event.listens_for(engine, "connect")
        def _pragmas(connection: object, _record: object) -> None:
            cursor = connection.cursor()  # type: ignore[attr-defined]
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL syncs at checkpoints, not at every commit: a killed process
            # loses nothing it committed (the log is in the OS's hands), a power cut may lose
            # the last commits. Intake is then one commit per order without an fsync.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

    migrate(engine)
    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to Alembic's newest revision (nothing to do when it is there)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
