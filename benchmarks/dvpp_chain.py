"""The DVPP contract's cost per coordination interval: gas, bytes, transactions per second.

For each community size ``n`` (5, 10, 20 by default) a fresh DVPP is deployed on the embedded
chain, ``n`` households (P_opt 3 kW each way, a 50 kW connection) are admitted, funded and
registered; then ``--intervals`` intervals run: at the start of each, every household reads its
instruction (``read_instruction``, a view, asked as the household; the ``n`` reads are sent
together, :meth:`DvppLedger.read_instructions_mw`) and reports its state and the battery power it
measured, equal to the instruction (``set_state``: the settlement of the previous interval by
Eq. 6 and the neighbour check). Residual loads are drawn per household and interval
(N(0, 1.5 kW), seeded), states of charge drift with the set-points.

Figures:

- *gas per household per interval*: the receipts' ``gasUsed`` of ``set_state``; **cold** is the
  first interval after registration (every household's report word gains its previous report:
  zero to non-zero writes), **warm** the mean of the later ones (non-zero to non-zero);
- *bytes per interval*: each ``set_state`` as a signed EIP-1559 transaction (RLP, as a node
  stores and relays it) and its receipt (RLP with the 256-byte bloom and the logs), summed over
  the interval's ``n`` reports; beside them the paper's Eq. 8 block model
  b(n) = 0.61 + 0.24·n kB (one block per interval holding the ``n`` reports) and its measured
  communication of 144–342 kB per interval (Tables 2–3);
- *transactions per second*: wall-clock rate of the ``n`` reports plus ``n`` instruction reads of
  an interval, and the hours a week at 15 s (40 320 intervals) takes.

``--path`` chooses how the reports reach the DVPP:

- ``own`` (default): each household sends its own ``set_state`` (``n`` transactions an
  interval);
- ``batch``: each household's meter signs its report (:mod:`peergrid.ledger.markets.dvpp_meters`)
  and one relayer (the operator's account) brings the interval's ``n`` reports in one
  ``DvppMeters.report_batch`` transaction; gas per household is that receipt's ``gasUsed`` ÷ ``n``,
  and the meters' signing (done on the meters, in reality) is timed apart and included in the
  interval's wall time.

``--chain anvil`` runs on a private anvil node (:class:`ManagedAnvilChain`) instead of the
embedded chain: each interval's ``n`` reports are sent in one batch (a pipeline) and mined
together, after the interval's clock step (which mines nothing: the reports' block is mined at
the new time, and the reads see it by ``eth_call``'s block override) and its ``n`` instruction
reads (one JSON-RPC batch).

    python benchmarks/dvpp_chain.py [--sizes 5 10 20] [--intervals 6] [--seed 1]
                                    [--chain embedded|anvil] [--path own|batch] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import numpy as np
import rlp
from eth_account import Account

from peergrid.ledger import EmbeddedChain
from peergrid.ledger.chain.base import Chain, Receipt
from peergrid.ledger.chain.managed import ManagedAnvilChain
from peergrid.ledger.markets.consortium import Role
from peergrid.ledger.markets.dvpp import DvppLedger, Rating, Report
from peergrid.ledger.markets.dvpp_meters import DvppMeters

SUPPLY_MICRO = 10**13
RATING = Rating(3000, 3000, 50_000)
INTERVALS_PER_WEEK_15S = 7 * 24 * 3600 // 15
SIGNER = Account.from_key(b"\x01" * 32)


def paper_block_kb(n: int) -> float:
    """Eq. 8 of the paper: block size, kB, with n participants."""
    return 0.61 + 0.24 * n


def signed_tx_bytes(chain_id: int, to: str, data: bytes, nonce: int, gas: int) -> int:
    """Length of the signed EIP-1559 transaction that carries ``data`` (what a node relays)."""
    signed = SIGNER.sign_transaction(
        {
            "type": 2,
            "chainId": chain_id,
            "nonce": nonce,
            "maxFeePerGas": 2 * 10**9,
            "maxPriorityFeePerGas": 10**9,
            "gas": gas,
            "to": to,
            "value": 0,
            "data": data,
            "accessList": [],
        }
    )
    return len(signed.raw_transaction)


def receipt_bytes(receipt: Receipt, cumulative_gas: int) -> int:
    """Length of the RLP receipt (status, cumulative gas, bloom, logs) of a typed transaction."""
    logs = [[bytes.fromhex(log.address[2:]), list(log.topics), log.data] for log in receipt.logs]
    return 1 + len(rlp.encode([1, cumulative_gas, b"\x00" * 256, logs]))


def run(
    n: int, intervals: int, rng: np.random.Generator, backend: str, path: str = "own"
) -> dict[str, Any]:
    chain: Chain = ManagedAnvilChain() if backend == "anvil" else EmbeddedChain()
    try:
        return _run(chain, n, intervals, rng, backend, path)
    finally:
        if isinstance(chain, ManagedAnvilChain):
            chain.close()


def _run(
    chain: Chain, n: int, intervals: int, rng: np.random.Generator, backend: str, path: str
) -> dict[str, Any]:
    operator, dso, issuer = (chain.new_account(x) for x in ("operator", "dso", "issuer"))
    meters: DvppMeters | None = None
    if path == "batch":
        meters = DvppMeters.deploy(
            chain, operator=operator, dso=dso, issuer=issuer, supply_micro=SUPPLY_MICRO
        )
        ledger = meters.ledger
    else:
        ledger = DvppLedger.deploy(
            chain, operator=operator, dso=dso, issuer=issuer, supply_micro=SUPPLY_MICRO
        )
    households = [chain.new_account(f"household{i}") for i in range(n)]
    ledger.consortium.bootstrap({h: Role.PROSUMER for h in households})
    soc = {h: float(rng.uniform(0.3, 0.7)) for h in households}
    register_gas = []
    for h in households:
        ledger.fund(h, 10**9)
        receipt = ledger.register(h, RATING, Report(soc[h], float(rng.normal(0, 1500))), 10**8)
        register_gas.append(receipt.gas_used)
        if meters is not None:
            meters.register_meter(h)

    cold: list[int] = []
    warm: list[int] = []
    tx_bytes: list[int] = []
    rcpt_bytes: list[int] = []
    seconds = sign_seconds = 0.0
    fn = ledger.contract.abi.function("set_state", 4)
    for k in range(1, intervals + 1):
        started = time.perf_counter()  # the clock step is part of an interval's cost
        interval = ledger.advance_interval()
        cumulative = 0
        interval_tx = interval_rcpt = 0
        # Every instruction is of the previous interval's snapshot: the reports of this one do
        # not change it, so all are read first and the reports sent as one batch.
        reports = {}
        instructions_mw = ledger.read_instructions_mw(households)  # one round trip on a node
        for h in households:
            instruction_w = instructions_mw[h] / 1000
            soc[h] = min(1.0, max(0.0, soc[h] - instruction_w * 15 / 3600 / 8000))
            reports[h] = Report(
                soc[h], float(np.clip(rng.normal(0, 1500), -40_000, 40_000)), instruction_w
            )
        if meters is not None:
            signing = time.perf_counter()
            signed = meters.sign_all(reports, interval)
            sign_seconds += time.perf_counter() - signing
            receipt = meters.report_batch(signed, operator)
            (cold if k == 1 else warm).append(receipt.gas_used / n)
            data = meters.contract.abi.encode_call(
                meters.contract.abi.function("report_batch", 1),
                ([r.as_tuple() for r in signed],),
            )
            seconds += time.perf_counter() - started
            tx_bytes.append(
                signed_tx_bytes(
                    chain.chain_id, meters.contract.address, data, k, receipt.gas_used * 2
                )
            )
            rcpt_bytes.append(receipt_bytes(receipt, receipt.gas_used))
            continue
        with chain.pipeline():
            receipts = [ledger.set_state(h, reports[h]) for h in households]
        for h, receipt in zip(households, receipts, strict=True):
            report = reports[h]
            instruction_w = report.p_measured_w
            (cold if k == 1 else warm).append(receipt.gas_used)
            data = ledger.contract.abi.encode_call(
                fn,
                (
                    h,
                    round(report.soc * 100_000),
                    round(report.p_res_w * 1000),
                    round(instruction_w * 1000),
                ),
            )
            cumulative += receipt.gas_used
            interval_tx += signed_tx_bytes(
                chain.chain_id, ledger.contract.address, data, k, receipt.gas_used * 2
            )
            interval_rcpt += receipt_bytes(receipt, cumulative)
        seconds += time.perf_counter() - started
        tx_bytes.append(interval_tx)
        rcpt_bytes.append(interval_rcpt)
    # instruction reads and reports (one transaction for all of them on the batch path)
    tx_per_interval = n + (1 if meters is not None else n)
    rate = tx_per_interval * intervals / seconds
    mean_tx_kb = statistics.fmean(tx_bytes) / 1000
    return {
        "chain": backend,
        "path": path,
        "households": n,
        "register_gas_mean": round(statistics.fmean(register_gas)),
        "set_state_gas_cold": round(statistics.fmean(cold)),
        "set_state_gas_warm": round(statistics.fmean(warm)) if warm else None,
        "set_state_gas_warm_max": round(max(warm)) if warm else None,
        "gas_per_interval_warm": round(statistics.fmean(warm) * n) if warm else None,
        "tx_kb_per_interval": round(mean_tx_kb, 2),
        "tx_bytes_per_report": round(statistics.fmean(tx_bytes) / n),
        "receipt_kb_per_interval": round(statistics.fmean(rcpt_bytes) / 1000, 2),
        "paper_block_kb": round(paper_block_kb(n), 2),
        "calls_per_second": round(rate, 1),
        "interval_seconds_wall": round(seconds / intervals, 4),
        "signing_seconds_per_interval": round(sign_seconds / intervals, 4),
        "intervals": intervals,
        "week_15s_hours": round(INTERVALS_PER_WEEK_15S * seconds / intervals / 3600, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--intervals", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chain", choices=("embedded", "anvil"), default="embedded")
    parser.add_argument("--path", choices=("own", "batch"), default="own")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [
        run(n, args.intervals, np.random.default_rng(args.seed), args.chain, args.path)
        for n in args.sizes
    ]
    if args.json:
        print(json.dumps(rows))
        return
    for row in rows:
        print(
            f"n={row['households']:>2} ({row['path']}): "
            f"gas per report cold {row['set_state_gas_cold']:>7}, "
            f"warm {row['set_state_gas_warm']:>7} (max {row['set_state_gas_warm_max']}), "
            f"{row['gas_per_interval_warm']:>9} gas/interval; "
            f"tx {row['tx_kb_per_interval']} kB + receipts {row['receipt_kb_per_interval']} kB "
            f"per interval ({row['tx_bytes_per_report']} B per report; Eq. 8 block "
            f"{row['paper_block_kb']} kB; paper traffic 144-342 kB); "
            f"{row['calls_per_second']} calls/s, {row['interval_seconds_wall']} s per interval, "
            f"a week at 15 s: {row['week_15s_hours']} h"
        )


if __name__ == "__main__":
    main()
