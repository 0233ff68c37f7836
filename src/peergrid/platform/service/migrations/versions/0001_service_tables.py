"""The service's tables: intake (orders, nonces, meter posts) and the read model.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(80), nullable=False, unique=True),
        sa.Column("slot", sa.Integer, nullable=False, index=True),
        sa.Column("agent", sa.String(64), nullable=False, index=True),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("quantity_wh", sa.BigInteger, nullable=False),
        sa.Column("price_micro_per_kwh", sa.BigInteger, nullable=False),
        sa.Column("bus", sa.String(64), nullable=False),
        sa.Column("nonce", sa.BigInteger, nullable=False),
        sa.Column("signature", sa.String(140), nullable=False),
        sa.Column("minute", sa.String(32), nullable=False),
        sa.Column("withdrawn", sa.Integer, nullable=False),
    )
    op.create_table(
        "nonces",
        sa.Column("signer", sa.String(42), primary_key=True),
        sa.Column("last_nonce", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "meter_posts",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("slot", sa.Integer, nullable=False),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("net_wh", sa.BigInteger, nullable=False),
        sa.Column("signature", sa.String(140), nullable=False),
        sa.UniqueConstraint("slot", "agent", name="one_reading_per_slot"),
    )
    op.create_table(
        "slots",
        sa.Column("slot", sa.Integer, primary_key=True),
        sa.Column("price_micro_per_kwh", sa.BigInteger, nullable=False),
        sa.Column("trade_count", sa.Integer, nullable=False),
        sa.Column("energy_wh", sa.BigInteger, nullable=False),
        sa.Column("value_micro", sa.BigInteger, nullable=False),
        sa.Column("fee_micro", sa.BigInteger, nullable=False),
        sa.Column("charge_micro", sa.BigInteger, nullable=False),
        sa.Column("dso_income_micro", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "trades",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("slot", sa.Integer, nullable=False, index=True),
        sa.Column("buyer", sa.String(64), nullable=False, index=True),
        sa.Column("seller", sa.String(64), nullable=False, index=True),
        sa.Column("energy_wh", sa.BigInteger, nullable=False),
        sa.Column("price_micro_per_kwh", sa.BigInteger, nullable=False),
        sa.Column("charge_micro", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "readings",
        sa.Column("slot", sa.Integer, primary_key=True),
        sa.Column("agent", sa.String(64), primary_key=True),
        sa.Column("reference_wh", sa.BigInteger, nullable=False),
        sa.Column("metered_wh", sa.BigInteger, nullable=False),
        sa.Column("credit_micro", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "balances",
        sa.Column("account", sa.String(64), primary_key=True),
        sa.Column("balance_micro", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for name in ("balances", "readings", "trades", "slots", "meter_posts", "nonces", "orders"):
        op.drop_table(name)
