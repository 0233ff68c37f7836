"""The service's request and response bodies (pydantic), in the chain's integers: energy in Wh,
prices in micro-currency per kWh, money in micro-currency. Signed fields carry the names of the
EIP-712 types in :mod:`peergrid.api.auth` in snake case."""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

U48 = 2**48 - 1
U64 = 2**64 - 1
T = TypeVar("T")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrderIn(_Body):
    agent: str = Field(max_length=42, description="the member's address (the signer)")
    slot: int = Field(ge=1, le=2**32 - 1, description="the delivery slot")
    side: Literal["buy", "sell"]
    quantity_wh: int = Field(gt=0, le=U48)
    price_micro_per_kwh: int = Field(ge=0, le=U48, description="buyer's maximum, seller's minimum")
    bus: str = Field(max_length=64, description="the member's bus on the feeder")
    nonce: int = Field(ge=0, le=U64, description="above the member's last nonce")
    signature: str = Field(max_length=140, description="EIP-712 signature of the Order")

    def signed_message(self) -> dict[str, object]:
        """The EIP-712 ``Order`` message the signature covers (the typed data's field names)."""
        return {
            "agent": self.agent,
            "slot": self.slot,
            "side": self.side,
            "quantityWh": self.quantity_wh,
            "priceMicroPerKwh": self.price_micro_per_kwh,
            "bus": self.bus,
            "nonce": self.nonce,
        }


class OrderAccepted(BaseModel):
    order_id: str
    slot: int
    replaced: str | None = Field(description="the member's earlier order for the slot, now gone")


class WithdrawalIn(_Body):
    agent: str = Field(max_length=42)
    nonce: int = Field(ge=0, le=U64)
    signature: str = Field(max_length=140, description="EIP-712 signature of the Withdrawal")


class ReadingIn(_Body):
    meter: str = Field(max_length=42, description="the meter's address (the signer)")
    slot: int = Field(ge=0, le=2**32 - 1, description="the delivered slot")
    net_wh: int = Field(ge=-U48, le=U48, description="export positive, import negative")
    signature: str = Field(max_length=140, description="EIP-712 signature of the Reading")


class Page(BaseModel, Generic[T]):
    items: list[T]
    limit: int
    offset: int
    total: int
    next_offset: int | None = Field(description="the offset of the next page; null at the end")


class SlotOut(BaseModel):
    slot: int
    price_micro_per_kwh: int
    trade_count: int
    energy_wh: int
    value_micro: int
    fee_micro: int
    charge_micro: int
    dso_income_micro: int


class TradeOut(BaseModel):
    id: int
    slot: int
    buyer: str
    seller: str
    energy_wh: int
    price_micro_per_kwh: int
    charge_micro: int


class ReadingOut(BaseModel):
    slot: int
    agent: str
    reference_wh: int
    metered_wh: int
    credit_micro: int


class OpenOrder(BaseModel):
    order_id: str
    slot: int
    side: str
    quantity_wh: int
    price_micro_per_kwh: int


class Quote(BaseModel):
    order_id: str
    won: bool
    price: float | None
    quote: dict[str, float] | None
    message: str


class Balance(BaseModel):
    account: str
    balance_micro: int


class Bill(BaseModel):
    slot: int
    trades: list[TradeOut]
    reading: ReadingOut | None


class MatchedSlot(BaseModel):
    """The DSO's view of a slot matched and not settled yet: results, never bids."""

    slot: int
    price: float | None
    case: int | None
    traded_kwh: float
    trades: list[dict[str, float | str]]
    dso_income: float
    oversupply_kwh: float | None


class DsoResults(BaseModel):
    matched: list[MatchedSlot]
    settled: list[SlotOut]


class FeederBus(BaseModel):
    bus: str
    members: int
    last_net_wh: int | None = Field(
        description="the bus's metered net energy in the last slot read"
    )


class FeederState(BaseModel):
    buses: list[FeederBus]
    distance_metric: str | None


class DistanceUpdate(_Body):
    bus_a: str = Field(max_length=64)
    bus_b: str = Field(max_length=64)
    metres: float = Field(ge=0, le=1_000_000)


class MemberOut(BaseModel):
    agent: str
    bus: str
    address: str
    meter: str


class MarketOut(BaseModel):
    chain_id: int
    verifying_contract: str
    domain: dict[str, str | int]
    mechanism: str
    slot_minutes: float
    quotation_end: float
    minute: float
    cycle: int
    phase: str
    dso: str
    members: list[MemberOut]


class Health(BaseModel):
    healthy: bool
    chain: str
    error: str | None = None
