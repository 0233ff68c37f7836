"""The scenario's optional ``[services]`` section: what the platform's services run with.

Present, ``peergrid run`` runs them beside the energy market (:mod:`peergrid.sim.services.run`);
absent (the default), nothing of them runs. Each sub-section is optional too: a run has the
services it names. Households are numbered 1..count in the order they are placed on the feeder
(as ``[ev_quota]`` numbers them)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_OTC_CONTRACTS = 500
MAX_PRICE = 1000.0  # currency per kWh
MAX_KW = 10_000.0
MAX_SHARES = 1_000_000
MAX_HOUSEHOLD = 1000


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class CertificatesPart(_Part):
    """Guarantees of origin (one certificate per Wh of metered PV production)."""

    producers: tuple[int, ...] | None = Field(
        None,
        description="households (1..count) whose PV is registered as a producer; none: every "
        "household with PV",
    )
    cancel_for_buyers: bool = Field(
        True,
        description="each slot, a producer's certificates of that slot are cancelled for the "
        "members who bought its energy (P2P purchases, then OTC deliveries), up to what it sold",
    )


class OtcEntry(_Part):
    """One OTC bilateral contract: a fixed energy each slot at a fixed price."""

    seller: int = Field(ge=1, le=MAX_HOUSEHOLD, strict=True, description="household 1..count")
    buyer: int = Field(ge=1, le=MAX_HOUSEHOLD, strict=True, description="household 1..count")
    price_per_kwh: float = Field(gt=0, le=MAX_PRICE, description="currency per kWh")
    kw: float | None = Field(
        None, gt=0, le=MAX_KW, description="constant power, kW (give kw or kwh_per_slot)"
    )
    kwh_per_slot: float | None = Field(
        None, gt=0, le=MAX_KW, description="energy per slot, kWh (give kw or kwh_per_slot)"
    )
    first_slot: int = Field(0, ge=0, strict=True, description="first slot of the run it covers")
    last_slot: int | None = Field(
        None, ge=0, strict=True, description="its last slot; none: the run's last"
    )

    @model_validator(mode="after")
    def _terms(self) -> OtcEntry:
        if self.seller == self.buyer:
            raise ValueError(f"seller and buyer must differ, both are household {self.seller}")
        if (self.kw is None) == (self.kwh_per_slot is None):
            raise ValueError("give exactly one of kw and kwh_per_slot")
        if self.last_slot is not None and self.last_slot < self.first_slot:
            raise ValueError(f"last_slot {self.last_slot} is before first_slot {self.first_slot}")
        return self

    def wh_per_slot(self, slot_minutes: int) -> int:
        """The contract's energy each slot, Wh."""
        kwh = self.kwh_per_slot if self.kwh_per_slot is not None else self.kw * slot_minutes / 60  # type: ignore[operator]
        return round(kwh * 1000)


class FlexibilityPart(_Part):
    """The DSO's flexibility market: each day's congestions screened and the relief bought."""

    enabled: bool = Field(True, description="false: no flexibility market")
    max_price: float = Field(0.30, gt=0, le=MAX_PRICE, description="DSO's maximum, currency/kWh")
    penalty_rate: float = Field(
        0.10, ge=0, le=MAX_PRICE, description="per kWh awarded but not delivered, currency"
    )


class CommunityBatteryPart(_Part):
    """A community battery at a household's bus, financed by a crowdsale of shares
    bought by the households (evenly), offering its flexibility to the DSO; its net revenue is
    distributed to the share holders each day and claimed."""

    household: int = Field(
        1,
        ge=1,
        le=MAX_HOUSEHOLD,
        strict=True,
        description="the household (1..count) at whose bus it sits",
    )
    kw: float = Field(20.0, gt=0, le=MAX_KW, description="power, kW")
    kwh: float = Field(40.0, gt=0, le=MAX_KW * 24, description="energy, kWh")
    share_price: float = Field(50.0, gt=0, le=1e6, description="price of a share, currency")
    shares: int = Field(240, ge=1, le=MAX_SHARES, strict=True, description="shares sold")
    price_per_kwh: float = Field(
        0.11, gt=0, le=MAX_PRICE, description="its flexibility offers' price, currency/kWh"
    )


class ServicesSection(_Part):
    """The platform's services beside the energy market, on an embedded chain of their own."""

    certificates: CertificatesPart | None = Field(None, description="guarantees of origin")
    otc: tuple[OtcEntry, ...] = Field(
        (), max_length=MAX_OTC_CONTRACTS, description="OTC bilateral contracts"
    )
    flexibility: FlexibilityPart | None = Field(None, description="the DSO flexibility market")
    community_battery: CommunityBatteryPart | None = Field(
        None, description="a crowdfunded community battery (needs flexibility)"
    )

    @model_validator(mode="after")
    def _something(self) -> ServicesSection:
        flex = self.flexibility is not None and self.flexibility.enabled
        if self.community_battery is not None and not flex:
            raise ValueError(
                "community_battery: its revenue comes from the flexibility market; add "
                "[services.flexibility]"
            )
        if self.certificates is None and not self.otc and not flex:
            raise ValueError(
                "name at least one service: certificates, otc, flexibility or community_battery"
            )
        return self
