"""Gas of the VDMA's CDA and NCDA on the on-chain order book: per shout, per fill, per session.

Streams of the paper's random shouts (004_vdma.md §3.2: side buy or sell with probability ½,
price ~ N(0.35, 0.025) €/kWh, quantity lognormal with median 1 kWh), placed by
:class:`peergrid.platform.service_market.ServiceMarket` on a fresh order book with ``--members``
agents spread over the buses of ``cigre-mv-vdma`` (NCDA by hop distance), fee rate 0:

- ``continuous``: one stream of ``--orders`` orders per mechanism, placed as they arrive;
- ``session``: ``--sessions`` session clears of ``--session`` orders each (offers first, then
  the asks by price), the "market-solving function" on chain.

Figures, from the receipts' ``gasUsed``:

- *shout*: a placement that touches no resting order and rests (the paper's offer placement
  G_o): mean, median, min and max, and the ratio of the mean to the paper's implied
  114 093 gas per shout (0.10 € with Eq. 1: 3.2 gwei, 273.90 €/eth);
- *fill*: the marginal gas of one more fill, the slope of a least-squares line of a crossing
  placement's gas on its number of fills (its intercept beside it);
- *session*: per session clear, the asks' placements (the matching) plus opening and closing
  the gate and expiring what rests (G_m of Eq. 1).

Gas is the same on the embedded chain and on anvil (``tests/ledger/test_anvil_managed.py``);
``--chain anvil`` runs the managed node.

    python benchmarks/vdma_chain_gas.py [--orders 1000] [--sessions 20] [--session 12]
        [--members 30] [--chain embedded|anvil] [--seed 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
from typing import Any

import numpy as np

from peergrid.bench.gas import EUR_PER_GAS
from peergrid.core.orders import Order, Side
from peergrid.grid.distance import distance_matrix
from peergrid.grid.feeders import load_feeder
from peergrid.ledger import open_chain
from peergrid.mechanisms.cda import BusDistances
from peergrid.platform.service_market import PlacementGas, ServiceMarket

PAPER_GAS_PER_SHOUT = 0.10 / EUR_PER_GAS  # 114 093 gas


def shouts(n: int, rng: np.random.Generator, members: dict[str, str], start: int) -> list[Order]:
    agents = sorted(members)
    out = []
    for k in range(start, start + n):
        agent = agents[int(rng.integers(len(agents)))]
        out.append(
            Order(
                f"o{k}",
                agent,
                Side.BUY if rng.random() < 0.5 else Side.SELL,
                max(1, round(float(rng.lognormal(0.0, 0.75)) * 1000)) / 1000,
                max(0, round(float(rng.normal(0.35, 0.025)) * 1e6)) / 1e6,
                bus=members[agent],
                submitted_at=k,
            )
        )
    return out


def figures(placements: list[PlacementGas]) -> dict[str, Any]:
    rests = [p.gas for p in placements if p.fills == 0 and p.rested]
    takers = [p for p in placements if p.fills > 0]
    fills = np.array([p.fills for p in takers], dtype=float)
    gas = np.array([p.gas for p in takers], dtype=float)
    slope = intercept = None
    if len(set(fills.tolist())) > 1:
        slope, intercept = (float(v) for v in np.polyfit(fills, gas, 1))
    mean = statistics.fmean(rests) if rests else None
    return {
        "placements": len(placements),
        "shouts": len(rests),
        "gas_per_shout_mean": mean,
        "gas_per_shout_median": statistics.median(rests) if rests else None,
        "gas_per_shout_min": min(rests, default=None),
        "gas_per_shout_max": max(rests, default=None),
        "ratio_to_paper_shout": mean / PAPER_GAS_PER_SHOUT if mean else None,
        "crossing_placements": len(takers),
        "fills": int(fills.sum()),
        "gas_per_fill": slope,
        "gas_crossing_fixed": intercept,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--session", type=int, default=12)
    parser.add_argument("--members", type=int, default=30)
    parser.add_argument("--chain", default="embedded", choices=["embedded", "anvil"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    hops = BusDistances.from_matrix(distance_matrix(load_feeder("cigre-mv-vdma"), "hops"))
    members = {f"brp{k}": hops.labels[k % len(hops.labels)] for k in range(args.members)}
    rng = np.random.default_rng(args.seed)
    out: dict[str, Any] = {"paper_gas_per_shout": PAPER_GAS_PER_SHOUT, "chain": args.chain}
    with open_chain(args.chain) as chain:
        market = ServiceMarket.open(chain, hops, members)
        session = 0
        for name, ncda in (("cda", False), ("ncda", True)):
            session += 1
            market.open_session(session, ncda=ncda)
            stream = market.place_stream(
                session, "up", shouts(args.orders, rng, members, 0), max_fills=32
            )
            market.close_session(session)
            continuous = figures(list(stream.placements))
            solving: list[int] = []
            placements: list[PlacementGas] = []
            for _ in range(args.sessions):
                session += 1
                orders = shouts(args.session, rng, members, 0)
                cleared = market.clear_session(session, {"up": orders}, ncda=ncda)
                record = cleared.pools["up"]
                asks = {o.id for o in orders if o.side is Side.BUY}
                placements.extend(record.placements)
                solving.append(
                    sum(p.gas for p in record.placements if p.order_id in asks)
                    + cleared.gas_open
                    + cleared.closure.gas_close
                    + cleared.closure.gas_expiry
                )
            out[name] = {
                "continuous": continuous,
                "session": {
                    **figures(placements),
                    "sessions": args.sessions,
                    "orders_per_session": args.session,
                    "gas_per_session_solving_mean": statistics.fmean(solving),
                    "gas_per_session_solving_max": max(solving),
                },
            }
    if args.json:
        print(json.dumps(out))
        return
    for name in ("cda", "ncda"):
        for mode in ("continuous", "session"):
            f = out[name][mode]
            print(
                f"{name} {mode}: {f['shouts']} shouts, {f['gas_per_shout_mean']:.0f} gas/shout "
                f"(median {f['gas_per_shout_median']:.0f}, {f['gas_per_shout_min']}"
                f"..{f['gas_per_shout_max']}; {f['ratio_to_paper_shout']:.3f} × the paper's "
                f"{PAPER_GAS_PER_SHOUT:.0f}); {f['fills']} fills, {f['gas_per_fill']:.0f} gas "
                f"per fill (+ {f['gas_crossing_fixed']:.0f} per crossing placement)"
            )
        s = out[name]["session"]
        print(
            f"{name} session clear of {s['orders_per_session']} orders: "
            f"{s['gas_per_session_solving_mean']:.0f} gas for the asks, the gate and the expiry "
            f"(max {s['gas_per_session_solving_max']})"
        )


if __name__ == "__main__":
    main()
