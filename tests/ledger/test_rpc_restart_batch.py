"""The batch market on a node killed and restarted empty mid-slot, several times over many slots.

anvil runs without a state file, so a SIGKILL loses the whole chain: deployment, roles, deposits
and every slot so far. The JSON-RPC client's journal holds every transaction it signed and
replays them, in order, as the same signed bytes; the slots then go on. Checked against the same
calls on the embedded chain: every balance, every slot's phase, fills and positions, and each
account's nonce equal to the transactions it meant to send (none lost, none applied twice).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from peergrid.ledger import Chain, EmbeddedChain, Fill, Phase
from peergrid.ledger.chain.anvil import ANVIL_DEV_KEYS, AnvilProcess, start_anvil
from peergrid.ledger.chain.rpc import RpcChain

from .market_helpers import Batch, make_batch, sealed

pytestmark = pytest.mark.slow

SLOTS = 8
FEE, PENALTY = 10_000, 50_000


def slot_plan(market: Batch, slot: int) -> list[Callable[[], object]]:
    """One slot, every call a step: open, four commits, start of the reveals, four reveals, the
    clearing, the readings; then a member withdraws and deposits again. Roles turn with the
    slot."""
    ledger = market.ledger
    members = market.members
    seller, buyer, small_buyer, small_seller = (members[(slot + k) % 4] for k in range(4))
    orders = [
        (seller, sealed(f"{slot}:s", False, 2000, 100_000)),
        (buyer, sealed(f"{slot}:b", True, 1500, 200_000)),
        (small_buyer, sealed(f"{slot}:sb", True, 1000, 150_000)),
        (small_seller, sealed(f"{slot}:ss", False, 500, 120_000)),
    ]
    fills = [Fill(1, 0, 1500, 150_000), Fill(2, 0, 500, 140_000), Fill(2, 3, 500, 130_000)]
    readings = {seller: 1900 + slot, buyer: 1500, small_buyer: 1100 - slot, small_seller: 500}
    steps: list[Callable[[], object]] = [partial(ledger.open_slot, slot)]
    steps += [partial(ledger.commit, m, slot, o) for m, o in orders]
    steps.append(partial(ledger.start_reveal, slot))
    steps += [partial(ledger.reveal, m, slot, o) for m, o in orders]
    steps.append(partial(ledger.post_clearing, slot, fills))
    steps.append(partial(ledger.post_readings, market.meter, slot, readings))
    steps.append(partial(market.escrow.withdraw, seller, 1000 + slot))
    steps.append(partial(market.escrow.deposit, seller, 1000 + slot))
    return steps


def plan(market: Batch) -> list[Callable[[], object]]:
    return [step for slot in range(1, SLOTS + 1) for step in slot_plan(market, slot)]


def new_market(chain: Chain) -> Batch:
    return make_batch(
        deposit_micro=10_000_000,
        fee_micro_per_kwh=FEE,
        penalty_micro_per_kwh=PENALTY,
        dso_reserve_micro=10_000_000,
        chain=chain,
    )


def outcome(market: Batch) -> dict[str, object]:
    """Everything compared across the two chains, by role (addresses differ)."""
    ledger = market.ledger
    index = {a: i for i, a in enumerate(market.accounts)}
    slots = []
    for slot in range(1, SLOTS + 1):
        info = ledger.slot_info(slot)
        positions = [
            (index[p.member], p.is_buy, p.energy_wh, p.value_micro) for p in ledger.positions(slot)
        ]
        slots.append((info.phase, info.order_count, info.trade_count, positions))
    return {
        "balances": [market.escrow.balance_of(a) for a in market.accounts],
        "locked": [market.escrow.locked_of(a) for a in market.accounts],
        "tokens": [market.escrow.token_balance(a) for a in market.accounts],
        "held": market.escrow.held_tokens(),
        "total": market.escrow.total_internal_balance(),
        "slots": slots,
        "nonces": [market.chain.nonce(a) for a in (market.operator, market.meter, *market.members)],
    }


def run_with_kills(node: AnvilProcess, steps: list[Callable[[], object]], at: list[int]) -> None:
    """Run ``steps`` in a worker thread; each time it reaches a step in ``at``, kill the node
    (SIGKILL, no state file: it comes back empty) and start it again, from this thread."""
    errors: list[BaseException] = []
    reached = [threading.Event() for _ in at]
    resumed = [threading.Event() for _ in at]

    def work() -> None:
        try:
            for i, step in enumerate(steps):
                if i in at:
                    k = at.index(i)
                    reached[k].set()
                    # Go on at once: the kill lands somewhere in the next calls.
                    resumed[k].wait(0.05)
                step()
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)
        finally:
            for event in reached:
                event.set()

    worker = threading.Thread(target=work)
    worker.start()
    for k in range(len(at)):
        assert reached[k].wait(120)
        if errors:
            break
        node.kill()
        node.start()
        resumed[k].set()
    worker.join(300)
    assert not worker.is_alive()
    if errors:
        raise errors[0]


def test_slots_survive_kills_that_empty_the_node(tmp_path: Path) -> None:
    reference = new_market(EmbeddedChain())
    for step in plan(reference):
        step()
    expected = outcome(reference)
    assert all(s[0] is Phase.SETTLED for s in expected["slots"])  # type: ignore[attr-defined]

    with (
        start_anvil(log_path=tmp_path / "anvil.log") as node,
        RpcChain(node.url, funder=ANVIL_DEV_KEYS[0], reconnect_timeout=60) as chain,
    ):
        market = new_market(chain)
        steps = plan(market)
        per_slot = len(steps) // SLOTS
        # In slot 2 after the reveals (before the clearing), in slot 5 among the commits, in
        # slot 7 right before the readings.
        at = [per_slot + 10, 4 * per_slot + 2, 6 * per_slot + 12]
        run_with_kills(node, steps, at)
        resent = sum(1 for e in chain.journal if e.resent)
        assert resent > 0, "the kills should have cost the node transactions to replay"
        assert outcome(market) == expected
        # Every signed transaction has its receipt on the node, once.
        for entry in chain.journal:
            receipt = chain._rpc("eth_getTransactionReceipt", [entry.tx_hash])
            assert receipt is not None and receipt["status"] == "0x1", entry
