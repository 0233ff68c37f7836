"""The public names of ``peergrid`` and of each layer's package are pinned: changing what a
layer offers is a deliberate act, made here and in the package's ``__all__`` together."""

import importlib
from pathlib import Path

import pytest

import peergrid

# Each layer's face (its package) and the names it hands on.
FACES: dict[str, list[str]] = {
    "peergrid.core": [
        "Clearing",
        "GridError",
        "LedgerError",
        "MICRO_PER_UNIT",
        "Order",
        "OrderError",
        "PeergridError",
        "ScenarioError",
        "Side",
        "Trade",
        "WH_PER_KWH",
        "canonical_order_set",
        "from_micro",
        "kw_to_kwh",
        "kwh_to_wh",
        "order_from_dict",
        "orders_from_dicts",
        "parse_order_book",
        "payment_micro",
        "split_sides",
        "to_micro",
        "wh_to_kwh",
    ],
    "peergrid.assets": [
        "Battery",
        "ElectricVehicle",
        "EnergySeries",
        "FixedLoad",
        "HOUSEHOLD_LOAD_PROFILES",
        "Household",
        "PVSystem",
        "PV_PROFILES",
        "ProfileLibrary",
        "household_energy",
        "load_profile_library",
    ],
    "peergrid.grid": [
        "DistanceMatrix",
        "Feeder",
        "FeederInfo",
        "GridLimits",
        "Injections",
        "LinearEstimate",
        "LinearSensitivity",
        "PowerFlowCheck",
        "SlotCheck",
        "Topology",
        "ValidationReport",
        "Violation",
        "check_radial",
        "distance_matrix",
        "is_radial",
        "list_feeders",
        "load_feeder",
        "read_injections",
        "topology",
        "validate",
        "write_injections",
    ],
    "peergrid.grid.opf": [
        "ACCheck",
        "Battery",
        "ElectricVehicle",
        "FixedLoad",
        "GridConnection",
        "OPFCase",
        "OPFError",
        "OPFInfeasible",
        "OPFResult",
        "PVSystem",
        "Prices",
        "REL_GAP_FLOOR",
        "RadialNetwork",
        "RelaxationGap",
        "SolveInfo",
        "ac_check",
        "example_case",
        "solve_opf",
    ],
    "peergrid.mechanisms": [
        "AuctionInfo",
        "MECHANISMS",
        "MechanismSpec",
        "Parameter",
        "QuotaAuctionInfo",
        "ScoredAuctionInfo",
        "ServiceMarketInfo",
        "check_params",
        "clear",
        "mechanism_spec",
    ],
    "peergrid.ledger": [
        "BACKENDS",
        "BatchMarketLedger",
        "BookOrder",
        "BookState",
        "BookTrade",
        "CancelReason",
        "Chain",
        "ClearingOutcome",
        "CommunityLedger",
        "ConsortiumClient",
        "Contract",
        "DistanceRow",
        "EmbeddedChain",
        "Escrow",
        "Fill",
        "FillPayment",
        "GasLog",
        "GasRecord",
        "GasSummary",
        "MAX_MEMBERS_PER_TX",
        "MAX_ORDERS_PER_SLOT",
        "MAX_TRADES_PER_TX",
        "MeterClient",
        "MeteredSettlement",
        "OrderBookLedger",
        "OrderState",
        "Phase",
        "Placement",
        "Pool",
        "Position",
        "Proposal",
        "ProposalKind",
        "ProposalState",
        "Receipt",
        "RevealedOrder",
        "Role",
        "RoleGrant",
        "SealedOrder",
        "SettlementTrade",
        "SlotInfo",
        "SlotRecord",
        "SlotStatus",
        "batch_refused_trades",
        "commitment",
        "community_refused_trades",
        "fill_payment",
        "fill_within_limits",
        "fills_from_trades",
        "lock_micro",
        "metered_settlement",
        "millimetres",
        "open_chain",
        "order_set_hash",
        "sealed_order",
        "settled_wh",
        "settlement_trades",
        "slot_transactions",
        "split_settleable",
        "within_price_limits",
    ],
    "peergrid.ledger.chain": [
        "Artifact",
        "BACKENDS",
        "Chain",
        "Contract",
        "EmbeddedChain",
        "GasLog",
        "GasRecord",
        "GasSummary",
        "Receipt",
        "TX_GAS_LIMIT",
        "compile_contract",
        "open_chain",
    ],
    "peergrid.ledger.markets": [
        "BatchMarketLedger",
        "BookOrder",
        "BookState",
        "BookTrade",
        "CancelReason",
        "ClearingOutcome",
        "CommunityLedger",
        "ConsortiumClient",
        "DistanceRow",
        "DvppLedger",
        "Escrow",
        "EvQuotaLedger",
        "Fill",
        "FillPayment",
        "MAX_MEMBERS_PER_TX",
        "MAX_ORDERS_PER_SLOT",
        "MAX_TRADES_PER_TX",
        "MarketLedger",
        "MeterClient",
        "MeteredSettlement",
        "OrderBookLedger",
        "OrderState",
        "Phase",
        "Placement",
        "Pool",
        "Position",
        "Proposal",
        "ProposalKind",
        "ProposalState",
        "RevealedOrder",
        "Role",
        "RoleGrant",
        "SealedOrder",
        "SettlementTrade",
        "SlotInfo",
        "SlotRecord",
        "SlotStatus",
        "batch_refused_trades",
        "clear",
        "commitment",
        "community_refused_trades",
        "fill_payment",
        "fill_within_limits",
        "fills_from_trades",
        "lock_micro",
        "metered_settlement",
        "millimetres",
        "order_set_hash",
        "sealed_order",
        "settled_wh",
        "settlement_trades",
        "slot_transactions",
        "split_settleable",
        "within_price_limits",
    ],
    "peergrid.api": ["Service", "create_app", "open_service"],
    "peergrid.platform": [
        "BatchSettlement",
        "CommunitySettlement",
        "CycleTimes",
        "DsoView",
        "Feedback",
        "MarketSetup",
        "Phase",
        "SETTLEMENTS",
        "Settlement",
        "Submission",
        "TradingCycle",
        "open_settlement",
        "plain_quotes",
    ],
    "peergrid.platform.settlement": [
        "BatchSettlement",
        "CommunitySettlement",
        "MAX_MEMBERS",
        "MarketSetup",
        "SETTLEMENTS",
        "Settlement",
        "SettlementFactory",
        "feeder_map_rows",
        "open_settlement",
    ],
    "peergrid.microgrid": [
        "EntitySpec",
        "Kind",
        "MicrogridParameters",
        "MicrogridResult",
        "MicrogridScenario",
        "generated_island",
        "load_microgrid_scenario",
        "microgrid_scenario_from_dict",
        "run_microgrid",
    ],
    "peergrid.protection": [
        "AttackKind",
        "CaseResult",
        "FaultKind",
        "ProtectionConfig",
        "load_protection_config",
        "protection_config_from_dict",
        "run_case",
        "write_case",
    ],
    "peergrid.sim": [
        "RunResult",
        "Scenario",
        "load_scenario",
        "run_scenario",
        "scenario_from_dict",
        "write_results",
    ],
    "peergrid.bench": [
        "cost_eur",
        "format_gas_table",
        "gas_table",
    ],
    "peergrid.cli": [
        "app",
        "main",
    ],
}


def test_public_names() -> None:
    assert sorted(peergrid.__all__) == [
        "Clearing",
        "GridError",
        "LedgerError",
        "Order",
        "OrderError",
        "PeergridError",
        "Result",
        "Scenario",
        "ScenarioError",
        "Side",
        "Trade",
        "__version__",
        "clear",
        "feeders",
        "mechanisms",
        "run",
    ]
    for name in peergrid.__all__:
        assert hasattr(peergrid, name)


def test_errors_share_one_root() -> None:
    for name in ("GridError", "LedgerError", "OrderError", "ScenarioError"):
        assert issubclass(getattr(peergrid, name), peergrid.PeergridError)


@pytest.mark.parametrize("face", sorted(FACES))
def test_each_layer_s_face_is_pinned(face: str) -> None:
    module = importlib.import_module(face)
    assert sorted(module.__all__) == FACES[face]
    for name in module.__all__:
        assert hasattr(module, name), f"{face}.{name}"


def test_every_package_has_a_face() -> None:
    """Every package of a layer lists its public names (none added by accident)."""
    root = Path(peergrid.__file__).parent
    packages = {
        "peergrid." + ".".join(p.parent.relative_to(root).parts)
        for p in root.rglob("__init__.py")
        if p.parent != root
    }
    layers = {p for p in packages if p.count(".") == 1}
    assert layers <= set(FACES), sorted(layers - set(FACES))


def _public_members(name: str) -> list[tuple[str, object]]:
    """A top-level name and, for a class of the API, its public methods and properties."""
    import inspect

    obj = getattr(peergrid, name)
    members: list[tuple[str, object]] = [(name, obj)]
    if inspect.isclass(obj) and not issubclass(obj, BaseException):
        fields = getattr(obj, "model_fields", {})
        for member, value in vars(obj).items():
            if member.startswith("_") or member in fields:
                continue
            if isinstance(value, property):
                members.append((f"{name}.{member}", value))
            elif callable(value) or isinstance(value, classmethod | staticmethod):
                members.append((f"{name}.{member}", getattr(obj, member)))
    return members


def test_every_public_name_is_documented_with_an_example() -> None:
    """100 % of the API's names (and their classes' methods) carry a docstring with an example."""
    import inspect

    undocumented = [
        label
        for name in peergrid.__all__
        if name != "__version__"
        for label, obj in _public_members(name)
        if not any(mark in (inspect.getdoc(obj) or "") for mark in ("::", ">>>"))
    ]
    assert undocumented == []
