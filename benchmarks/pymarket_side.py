"""Runs inside pymarket's own environment (numpy < 2, pandas < 2); called by pymarket_compare.py.

Reads order books (JSON, peergrid's format) from argv[1] and prints, per book and mechanism,
the median wall time of pymarket's Huang and MUDA auctions and their traded volume, as JSON.
"""

import json
import statistics
import sys
import time
import warnings

import pymarket as pm

warnings.simplefilter("ignore")


def run(book, mechanism, repeat):
    times, traded = [], 0.0
    for _ in range(repeat):
        market = pm.Market()
        for k, order in enumerate(book):
            market.accept_bid(
                order["quantity_kwh"], order["price"], k, order["side"] == "buy", 0, True
            )
        start = time.perf_counter()
        transactions, _ = market.run(mechanism)
        times.append(time.perf_counter() - start)
        frame = transactions.get_df()
        buying = market.bm.get_df().buying
        traded = float(frame[frame.bid.map(buying)].quantity.sum()) if len(frame) else 0.0
    return statistics.median(times), traded


with open(sys.argv[1]) as handle:
    books = json.load(handle)
repeat = int(sys.argv[2])
out = {}
for name, book in books.items():
    out[name] = {}
    for mechanism in ("huang", "muda"):
        seconds, traded = run(book, mechanism, repeat)
        out[name][mechanism] = {"seconds": seconds, "traded_kwh": traded}
print(json.dumps(out))
