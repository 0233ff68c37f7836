"""The Community contract through its client: roles, deposits, withdrawals, slot settlement."""

from __future__ import annotations

import pytest

from peergrid.core.errors import LedgerError
from peergrid.ledger import (
    MAX_MEMBERS_PER_TX,
    MAX_TRADES_PER_TX,
    CommunityLedger,
    EmbeddedChain,
    SettlementTrade,
    SlotStatus,
    order_set_hash,
)

from .helpers import FUNDS_MICRO, N_MEMBERS, SUPPLY_MICRO, Community, make_community, reverts

HASH = order_set_hash(b'{"orders":[]}')
SETTLE = "Community.settle_slot"


def _trade(
    buyer: str, seller: str, energy_wh: int = 1000, price: int = 100_000, fee: int = 0
) -> SettlementTrade:
    return SettlementTrade(buyer, seller, energy_wh, price, fee)


# --- deployment and roles ------------------------------------------------------------------------


def test_deployment_state(community: Community) -> None:
    ledger, chain = community.ledger, community.chain
    assert chain.call(ledger.community, "operator") == community.operator
    assert chain.call(ledger.community, "dso") == community.dso
    assert chain.call(ledger.community, "token") == ledger.token.address
    assert ledger.member_count() == N_MEMBERS
    assert all(ledger.is_member(m) for m in community.members)
    assert not ledger.is_member(community.outsider)
    assert ledger.token_total_supply() == SUPPLY_MICRO
    assert ledger.token_balance(ledger.community.address) == N_MEMBERS * FUNDS_MICRO
    assert ledger.total_internal_balance() == N_MEMBERS * FUNDS_MICRO
    assert ledger.token_balance(community.issuer) == SUPPLY_MICRO - N_MEMBERS * FUNDS_MICRO


def test_contract_limits_match_the_client(community: Community) -> None:
    chain, contract = community.chain, community.ledger.community
    assert chain.call(contract, "MAX_TRADES") == MAX_TRADES_PER_TX
    assert chain.call(contract, "MAX_MEMBERS_PER_CALL") == MAX_MEMBERS_PER_TX


@pytest.mark.parametrize("who", ["dso", "issuer", "member", "outsider"])
def test_only_the_operator_registers_members(community: Community, who: str) -> None:
    sender = community.members[0] if who == "member" else getattr(community, who)
    newcomer = community.chain.new_account("newcomer")
    with reverts("Community.register_members", "caller is not the operator"):
        community.chain.transact(sender, community.ledger.community, "register_members", [newcomer])
    assert not community.ledger.is_member(newcomer)


def test_register_rejects_duplicates_and_the_zero_address(community: Community) -> None:
    ledger = community.ledger
    with reverts("Community.register_members", "already a member"):
        ledger.register_members([community.outsider, community.members[0]])
    assert not ledger.is_member(community.outsider)  # the whole batch reverted
    with reverts("Community.register_members", "member is the zero address"):
        ledger.register_members(["0x" + "00" * 20])


def test_registration_is_batched(chain_members: tuple[Community, list[str]]) -> None:
    community, newcomers = chain_members
    receipts = community.ledger.register_members(newcomers)
    assert len(receipts) == 2  # 130 members, 128 to a transaction
    assert community.ledger.member_count() == N_MEMBERS + len(newcomers)
    registered = [e.args["member"] for r in receipts for e in r.events_named("MemberRegistered")]
    assert registered == newcomers


@pytest.fixture
def chain_members(community: Community) -> tuple[Community, list[str]]:
    return community, [community.chain.new_account(f"new{i}") for i in range(130)]


@pytest.mark.parametrize("who", ["dso", "member", "outsider"])
def test_only_the_operator_settles(community: Community, who: str) -> None:
    sender = community.members[0] if who == "member" else getattr(community, who)
    a, b = community.members[:2]
    with reverts(SETTLE, "caller is not the operator"):
        community.chain.transact(
            sender, community.ledger.community, "settle_slot", 1, HASH, [_trade(a, b).as_tuple()]
        )
    assert community.ledger.slot_record(1).status is SlotStatus.NONE


# --- deposits and withdrawals --------------------------------------------------------------------


def test_non_member_cannot_deposit(community: Community) -> None:
    ledger, outsider = community.ledger, community.outsider
    ledger.fund(outsider, 5_000)
    with reverts("Community.deposit", "caller is not a member"):
        ledger.deposit(outsider, 5_000)
    assert ledger.token_balance(outsider) == 5_000
    assert ledger.balance_of(outsider) == 0


def test_deposit_needs_allowance_and_a_positive_amount(community: Community) -> None:
    member, chain, contract = community.members[0], community.chain, community.ledger.community
    with reverts("Community.deposit", "token: insufficient allowance"):
        chain.transact(member, contract, "deposit", 1)
    with reverts("Community.deposit", "zero amount"):
        community.ledger.deposit(member, 0)


def test_deposit_cannot_exceed_own_tokens(community: Community) -> None:
    with reverts("Community.deposit", "token: transfer amount exceeds balance"):
        community.ledger.deposit(community.members[0], 1)  # all its tokens are deposited already


def test_withdraw_pays_out_own_balance(community: Community) -> None:
    ledger, member = community.ledger, community.members[0]
    receipt = ledger.withdraw(member, 300)
    assert ledger.balance_of(member) == FUNDS_MICRO - 300
    assert ledger.token_balance(member) == 300
    assert ledger.total_internal_balance() == N_MEMBERS * FUNDS_MICRO - 300
    assert ledger.token_balance(ledger.community.address) == N_MEMBERS * FUNDS_MICRO - 300
    (withdrawn,) = receipt.events_named("Withdrawn")
    assert withdrawn.args == {"account": member, "amount_micro": 300}


def test_member_cannot_withdraw_more_than_its_own_balance(community: Community) -> None:
    before = community.balances()
    with reverts("Community.withdraw", "balance too low"):
        community.ledger.withdraw(community.members[0], FUNDS_MICRO + 1)
    assert community.balances() == before


def test_nobody_withdraws_another_members_money(community: Community) -> None:
    ledger = community.ledger
    ledger.withdraw(community.members[1], FUNDS_MICRO)  # member 1 now has nothing inside
    before = community.balances()
    with reverts("Community.withdraw", "balance too low"):
        ledger.withdraw(community.members[1], 1)
    with reverts("Community.withdraw", "balance too low"):
        ledger.withdraw(community.outsider, 1)
    with reverts("Community.withdraw", "balance too low"):
        ledger.withdraw(community.operator, 1)
    assert community.balances() == before


def test_withdraw_zero_is_rejected(community: Community) -> None:
    with reverts("Community.withdraw", "zero amount"):
        community.ledger.withdraw(community.members[0], 0)


# --- settlement: exact numbers -------------------------------------------------------------------


def test_hand_computed_settlement(community: Community) -> None:
    """Three trades whose payments, fee halves and floors were computed by hand."""
    a, b, c, d = community.members
    trades = [
        # value = 1234 * 123457 // 1000 = 152345 (152345.938 floored); fee 1001 -> 501 + 500
        SettlementTrade(a, b, 1234, 123_457, 1001),
        # value = 1 * 999 // 1000 = 0; fee 3 -> buyer 2, seller 1 (out of its balance)
        SettlementTrade(c, a, 1, 999, 3),
        # value = 2500 * 80000 // 1000 = 200000; no fee
        SettlementTrade(b, c, 2500, 80_000, 0),
    ]
    (receipt,) = community.ledger.settle_slot(7, HASH, trades)
    ledger = community.ledger
    assert ledger.balance_of(a) == 1_000_000_000 - 152_846 - 1 == 999_847_153
    assert ledger.balance_of(b) == 1_000_000_000 + 151_845 - 200_000 == 999_951_845
    assert ledger.balance_of(c) == 1_000_000_000 - 2 + 200_000 == 1_000_199_998
    assert ledger.balance_of(d) == 1_000_000_000
    assert ledger.dso_balance() == 1004
    assert ledger.total_internal_balance() == 4_000_000_000
    assert ledger.token_balance(ledger.community.address) == 4_000_000_000

    record = ledger.slot_record(7)
    assert record.order_set_hash == HASH
    assert (record.trade_count, record.energy_wh, record.value_micro, record.fee_micro) == (
        3,
        3735,
        352_345,
        1004,
    )
    assert record.status is SlotStatus.SETTLED and record.settled

    settled = community.ledger.trades_in(receipt)
    assert settled == tuple(trades)
    assert [t.value_micro for t in settled] == [152_345, 0, 200_000]
    assert [(t.buyer, t.seller) for t in settled] == [(a, b), (c, a), (b, c)]
    assert all(e.args["slot"] == 7 for e in receipt.events_named("TradeSettled"))
    (slot_event,) = receipt.events_named("SlotSettled")
    assert slot_event.args == {
        "slot": 7,
        "order_set_hash": HASH,
        "trade_count": 3,
        "energy_wh": 3735,
        "value_micro": 352_345,
        "fee_micro": 1004,
    }
    # The client states the same arithmetic.
    assert [t.buyer_pays_micro for t in trades] == [152_846, 2, 200_000]
    assert [t.seller_receives_micro for t in trades] == [151_845, -1, 200_000]


def test_dso_fee_goes_to_the_dso_and_only_the_dso_withdraws_it(community: Community) -> None:
    a, b = community.members[:2]
    ledger = community.ledger
    ledger.settle_slot(1, HASH, [_trade(a, b, fee=7)])
    assert ledger.dso_balance() == 7
    assert ledger.balance_of(a) == FUNDS_MICRO - 100_000 - 4  # buyer: the larger half
    assert ledger.balance_of(b) == FUNDS_MICRO + 100_000 - 3  # seller: the smaller half
    for sender in (a, community.operator, community.outsider):
        with reverts("Community.withdraw_fees", "caller is not the dso"):
            community.chain.transact(sender, ledger.community, "withdraw_fees", 1)
    with reverts("Community.withdraw_fees", "dso balance too low"):
        ledger.withdraw_fees(8)
    ledger.withdraw_fees(7)
    assert ledger.dso_balance() == 0
    assert ledger.token_balance(community.dso) == 7
    assert ledger.total_internal_balance() == ledger.token_balance(ledger.community.address)


def test_trades_of_a_slot_apply_in_order(community: Community) -> None:
    """A member with nothing inside sells, then spends the proceeds in the same slot."""
    a, b, c = community.members[:3]
    ledger = community.ledger
    ledger.withdraw(c, FUNDS_MICRO)
    ledger.settle_slot(1, HASH, [_trade(a, c, 1000, 100_000), _trade(c, b, 1000, 100_000)])
    assert ledger.balance_of(c) == 0
    assert ledger.balance_of(b) == FUNDS_MICRO + 100_000


def test_an_empty_slot_is_recorded(community: Community) -> None:
    (receipt,) = community.ledger.settle_slot(3, HASH, [])
    record = community.ledger.slot_record(3)
    assert record.settled and record.trade_count == 0 and record.order_set_hash == HASH
    assert [e.name for e in receipt.events] == ["SlotSettled"]


# --- settlement: rejections ----------------------------------------------------------------------


def test_a_slot_cannot_be_settled_twice(community: Community) -> None:
    a, b = community.members[:2]
    ledger = community.ledger
    ledger.settle_slot(5, HASH, [_trade(a, b)])
    before = community.balances()
    with reverts(SETTLE, "slot already settled"):
        ledger.settle_slot(5, HASH, [_trade(a, b)])
    with reverts(SETTLE, "slot already settled"):
        ledger.settle_slot(5, order_set_hash(b"other"), [])
    with reverts("Community.settle_slot_part", "slot already settled"):
        community.chain.transact(
            community.operator, ledger.community, "settle_slot_part", 5, HASH, [], True
        )
    assert community.balances() == before
    assert ledger.slot_record(5).trade_count == 1
    ledger.settle_slot(6, HASH, [_trade(a, b)])  # the next slot is fine


def test_buyer_equal_to_seller_is_rejected(community: Community) -> None:
    a = community.members[0]
    with reverts(SETTLE, "buyer and seller are the same"):
        community.ledger.settle_slot(1, HASH, [_trade(a, a)])


def test_zero_energy_is_rejected(community: Community) -> None:
    a, b = community.members[:2]
    with reverts(SETTLE, "zero energy"):
        community.ledger.settle_slot(1, HASH, [_trade(a, b, energy_wh=0)])


@pytest.mark.parametrize("side", ["buyer", "seller"])
def test_non_member_parties_are_rejected(community: Community, side: str) -> None:
    a, outsider = community.members[0], community.outsider
    trade = _trade(outsider, a) if side == "buyer" else _trade(a, outsider)
    with reverts(SETTLE, f"{side} is not a member"):
        community.ledger.settle_slot(1, HASH, [trade])


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("energy_wh", 2**64, "energy out of range"),
        ("price_micro_per_kwh", 2**64, "price out of range"),
        ("fee_micro", 2**128, "fee out of range"),
    ],
)
def test_out_of_range_inputs_are_named(
    community: Community, field: str, value: int, reason: str
) -> None:
    a, b = community.members[:2]
    values = {"energy_wh": 1, "price_micro_per_kwh": 1, "fee_micro": 0, field: value}
    with reverts(SETTLE, reason):
        community.ledger.settle_slot(1, HASH, [SettlementTrade(a, b, **values)])


def test_the_largest_inputs_fail_by_name_not_by_overflow(community: Community) -> None:
    a, b = community.members[:2]
    top = SettlementTrade(a, b, 2**64 - 1, 2**64 - 1, 2**128 - 1)
    with reverts(SETTLE, "buyer balance too low"):
        community.ledger.settle_slot(1, HASH, [top])
    community.ledger.settle_slot(1, HASH, [SettlementTrade(a, b, 2**64 - 1, 0, 0)])
    assert community.ledger.slot_record(1).energy_wh == 2**64 - 1


def test_insufficient_buyer_balance_leaves_state_unchanged(community: Community) -> None:
    a, b, c = community.members[:3]
    ledger = community.ledger
    before = community.balances()
    n_records = len(ledger.gas_log)
    too_much = FUNDS_MICRO * 1000 // 100_000 + 1000  # Wh whose value exceeds c's balance
    trades = [_trade(a, b, fee=10), _trade(b, a, fee=10), _trade(c, a, energy_wh=too_much)]
    with reverts(SETTLE, "buyer balance too low"):
        ledger.settle_slot(1, HASH, trades)
    assert community.balances() == before
    assert ledger.slot_record(1).status is SlotStatus.NONE
    assert len(ledger.gas_log) == n_records  # a reverted call is not sent
    ledger.settle_slot(1, HASH, trades[:2])  # the slot is still free


def test_seller_must_cover_its_fee_share(community: Community) -> None:
    a, b = community.members[:2]
    ledger = community.ledger
    ledger.withdraw(b, FUNDS_MICRO)  # b has nothing inside
    # value 1 * 1000 // 1000 = 1; seller's fee share 10 // 2 = 5 > 1 + 0
    with reverts(SETTLE, "seller balance too low for its fee share"):
        ledger.settle_slot(1, HASH, [_trade(a, b, energy_wh=1, price=1000, fee=10)])
    ledger.settle_slot(1, HASH, [_trade(a, b, energy_wh=5, price=1000, fee=10)])  # 5 covers 5
    assert ledger.balance_of(b) == 0
    assert ledger.dso_balance() == 10


# --- members leaving -----------------------------------------------------------------------------


def test_remove_member_needs_the_operator_and_a_zero_balance(community: Community) -> None:
    ledger, a, b = community.ledger, community.members[0], community.members[1]
    with reverts("Community.remove_member", "caller is not the operator"):
        community.chain.transact(a, ledger.community, "remove_member", a)
    with reverts("Community.remove_member", "member balance is not zero"):
        ledger.remove_member(a)
    ledger.withdraw(a, FUNDS_MICRO)
    ledger.remove_member(a)
    assert not ledger.is_member(a)
    assert ledger.member_count() == N_MEMBERS - 1
    with reverts("Community.remove_member", "not a member"):
        ledger.remove_member(a)
    with reverts(SETTLE, "buyer is not a member"):
        ledger.settle_slot(1, HASH, [_trade(a, b)])
    ledger.register_members([a])  # may come back
    assert ledger.is_member(a)


# --- settlement in parts -------------------------------------------------------------------------


def _five_trades(community: Community) -> list[SettlementTrade]:
    a, b, c, d = community.members
    return [
        SettlementTrade(a, b, 1500, 110_000, 21),
        SettlementTrade(c, d, 700, 90_000, 5),
        SettlementTrade(b, c, 333, 123_456, 0),
        SettlementTrade(d, a, 2000, 100_001, 1),
        SettlementTrade(a, c, 10, 1, 3),
    ]


def test_a_large_settlement_is_split_and_matches_one_transaction() -> None:
    split, whole = make_community(), make_community()
    receipts = split.ledger.settle_slot(9, HASH, _five_trades(split), max_trades_per_tx=2)
    assert [r.function for r in receipts] == ["settle_slot_part"] * 3
    assert [len(r.events_named("TradeSettled")) for r in receipts] == [2, 2, 1]
    assert [len(r.events_named("SlotSettled")) for r in receipts] == [0, 0, 1]
    assert all(r.slot == 9 for r in receipts)
    (one,) = whole.ledger.settle_slot(9, HASH, _five_trades(whole))
    assert one.function == "settle_slot"
    # Same accounts (deterministic addresses), same results.
    assert split.members == whole.members
    assert split.balances() == whole.balances()
    assert split.ledger.slot_record(9) == whole.ledger.slot_record(9)
    assert split.ledger.slot_record(9).trade_count == 5


def test_more_trades_than_one_transaction_carries() -> None:
    community = make_community(n_members=2)
    a, b = community.members
    trades = [_trade(a, b, energy_wh=1, price=1000) for _ in range(MAX_TRADES_PER_TX + 10)]
    receipts = community.ledger.settle_slot(2, HASH, trades)
    assert len(receipts) == 2
    assert community.ledger.slot_record(2).trade_count == MAX_TRADES_PER_TX + 10
    assert community.ledger.balance_of(b) == FUNDS_MICRO + MAX_TRADES_PER_TX + 10


def test_parts_must_carry_the_same_order_set_hash(community: Community) -> None:
    a, b = community.members[:2]
    chain, contract, operator = community.chain, community.ledger.community, community.operator
    row = _trade(a, b).as_tuple()
    chain.transact(operator, contract, "settle_slot_part", 4, HASH, [row], False)
    assert community.ledger.slot_record(4).status is SlotStatus.OPEN
    with reverts("Community.settle_slot_part", "order set hash differs from first part"):
        chain.transact(operator, contract, "settle_slot_part", 4, order_set_hash(b"x"), [], True)
    chain.transact(operator, contract, "settle_slot_part", 4, HASH, [row], True)
    record = community.ledger.slot_record(4)
    assert record.settled and record.trade_count == 2


def test_max_trades_per_tx_is_checked(community: Community) -> None:
    with pytest.raises(ValueError, match="max_trades_per_tx"):
        community.ledger.settle_slot(1, HASH, [], max_trades_per_tx=MAX_TRADES_PER_TX + 1)
    with pytest.raises(ValueError, match="max_trades_per_tx"):
        community.ledger.settle_slot(1, HASH, [], max_trades_per_tx=0)


def test_a_bad_hash_is_refused_before_sending(community: Community) -> None:
    with pytest.raises(LedgerError) as info:
        community.ledger.settle_slot(1, b"short", [])
    assert info.value.call == SETTLE
    assert info.value.reason.startswith("bad argument")


def test_a_members_flag_and_balance_share_one_word_that_cannot_overflow() -> None:
    """The member flag is the account word's top bit: the contract holds at most 2**255 - 1, so
    no balance reaches it, and a removed member's balance stays withdrawable."""
    chain = EmbeddedChain()
    operator, dso, issuer, member = (chain.new_account(r) for r in ("op", "dso", "iss", "m"))
    ledger = CommunityLedger.deploy(
        chain, operator=operator, dso=dso, issuer=issuer, supply_micro=2**256 - 1
    )
    ledger.register_members([member])
    ledger.fund(member, 2**255)
    with reverts("Community.deposit", "deposit exceeds the contract's capacity"):
        ledger.deposit(member, 2**255)
    ledger.deposit(member, 2**255 - 1)
    assert ledger.balance_of(member) == 2**255 - 1 and ledger.is_member(member)
    with reverts("Community.deposit", "deposit exceeds the contract's capacity"):
        ledger.deposit(member, 1)
    ledger.withdraw(member, 2**255 - 1)
    assert ledger.balance_of(member) == 0 and ledger.is_member(member)
    ledger.remove_member(member)
    assert not ledger.is_member(member) and ledger.balance_of(member) == 0
