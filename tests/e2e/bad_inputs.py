"""Bad inputs to every command, and the one line each must be refused with.

Each :class:`Bad` is one row: the command's arguments (run in a folder holding ``files``), what
comes on stdin, and a fragment of the one error line expected. `test_bad_inputs.py` runs them.
Paths are relative to the row's folder.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import tomli_w

INVALID_UTF8 = b"\xff\xfe\x80"
DEEP = 100_000  # the nesting depth
HUGE = "1" + "0" * 400  # 10**400: beyond the float range
LONG_DIGITS = "9" * 5000  # beyond Python's default limit for int("…")


@dataclass(frozen=True)
class Bad:
    id: str
    args: tuple[str, ...]
    error: str  # a fragment of the one line on stderr, after "error: "
    files: Mapping[str, bytes] = field(default_factory=dict)
    stdin: bytes | None = None
    # The arguments on the code before issue 11 where a flag was renamed (for the measurement).
    before: tuple[str, ...] | None = None


# --- scenario files --------------------------------------------------------------------------

TINY: dict[str, Any] = {
    "name": "t",
    "seed": 1,
    "households": {"count": 2},
    "time": {"slot_minutes": 1440},
    "grid": {"power_flow": False},
    "ledger": {"enabled": False},
}


def scenario(**changes: Any) -> bytes:
    """The tiny scenario with ``section__field=value`` changes (``None`` removes)."""
    data = json.loads(json.dumps(TINY))
    for key, value in changes.items():
        *sections, name = key.split("__")
        target = data
        for section in sections:
            target = target.setdefault(section, {})
        if value is None:
            target.pop(name, None)
        else:
            target[name] = value
    return tomli_w.dumps(data).encode()


def raw_scenario(extra: str, **changes: Any) -> bytes:
    """The tiny scenario followed by raw TOML text (for what tomli_w cannot write)."""
    return scenario(**changes) + b"\n" + extra.encode()


def run(text: bytes, *more: str) -> tuple[tuple[str, ...], dict[str, bytes]]:
    return ("run", "s.toml", "-o", "out", *more), {"s.toml": text}


def _scenario_row(id: str, error: str, text: bytes, *more: str) -> Bad:
    args, files = run(text, *more)
    return Bad(id, args, error, files)


SCENARIO_ROWS = [
    Bad("scenario: missing file", ("run", "nowhere.toml"), "nowhere.toml: cannot read"),
    Bad("scenario: a folder", ("run", "sub"), "sub: cannot read", {"sub/x": b""}),
    _scenario_row(
        "scenario: invalid UTF-8", "s.toml: not UTF-8", b'name = "' + INVALID_UTF8 + b'"'
    ),
    _scenario_row(
        "scenario: Latin-1 text",
        "s.toml: not UTF-8 (line 1, column 10",
        'name = "M\xfcller"'.encode("latin-1"),
    ),
    _scenario_row("scenario: UTF-16", "s.toml: not UTF-8", 'name = "x"\n'.encode("utf-16")),
    _scenario_row("scenario: NUL byte", "s.toml: not valid TOML", b'name = "a\x00b"\n'),
    _scenario_row("scenario: malformed TOML", "s.toml: not valid TOML", b"[time\n"),
    _scenario_row("scenario: duplicate key", "s.toml: not valid TOML", b"seed = 1\nseed = 2\n"),
    _scenario_row(
        "scenario: duplicate table", "s.toml: not valid TOML", b"[time]\ndays = 1\n[time]\n"
    ),
    _scenario_row(
        "scenario: arrays nested 10^5 deep",
        "s.toml: line 1, column 37: nested deeper than 32 levels",
        b"x = " + b"[" * DEEP + b"]" * DEEP + b"\n",
    ),
    _scenario_row(
        "scenario: inline tables nested 10^5 deep",
        "s.toml: line 1, column 165: nested deeper than 32 levels",
        b"x = " + b"{a = " * DEEP + b"1" + b"}" * DEEP + b"\n",
    ),
    _scenario_row(
        "scenario: seed 10^400", "s.toml: seed: the integer 1000", f"seed = {HUGE}\n".encode()
    ),
    _scenario_row(
        "scenario: count 10^400",
        "households.count: the integer 1000",
        raw_scenario(f"[households]\ncount = {HUGE}\n", households=None),
    ),
    _scenario_row(
        "scenario: 5000-digit integer",
        "s.toml: line 1, column 8: a number of 5000 digits",
        f"seed = {LONG_DIGITS}\n".encode(),
    ),
    _scenario_row(
        "scenario: retail 1e400 (overflows to inf)",
        "tariffs.retail_per_kwh: the number 1e400 is beyond",
        raw_scenario("[tariffs]\nretail_per_kwh = 1e400\n"),
    ),
    _scenario_row(
        "scenario: retail inf",
        "tariffs.retail_per_kwh",
        raw_scenario("[tariffs]\nretail_per_kwh = inf\n"),
    ),
    _scenario_row(
        "scenario: retail nan",
        "tariffs.retail_per_kwh",
        raw_scenario("[tariffs]\nretail_per_kwh = nan\n"),
    ),
    _scenario_row(
        "scenario: retail 1e308",
        "tariffs.retail_per_kwh: Input should be less than or equal to",
        scenario(tariffs={"retail_per_kwh": 1e308}),
    ),
    _scenario_row(
        "scenario: feed-in 1e307 below retail 1e308",
        "tariffs.retail_per_kwh",
        scenario(tariffs={"retail_per_kwh": 1e308, "feed_in_per_kwh": 1e307}),
    ),
    _scenario_row(
        "scenario: network fee 1e308",
        "tariffs.network_fee_per_kwh",
        scenario(tariffs={"network_fee_per_kwh": 1e308}),
    ),
    _scenario_row(
        "scenario: penalty inf",
        "market.penalty_per_kwh",
        raw_scenario("[market]\npenalty_per_kwh = inf\n"),
    ),
    _scenario_row(
        "scenario: penalty 1e308",
        "market.penalty_per_kwh",
        scenario(market={"penalty_per_kwh": 1e308}),
    ),
    _scenario_row(
        "scenario: deposit inf",
        "ledger.deposit_per_member",
        raw_scenario("[ledger]\nenabled = true\ndeposit_per_member = inf\n", ledger=None),
    ),
    _scenario_row(
        "scenario: deposit 1e308",
        "ledger.deposit_per_member",
        scenario(ledger={"enabled": True, "deposit_per_member": 1e308}),
    ),
    _scenario_row(
        "scenario: deposit nan",
        "ledger.deposit_per_member",
        raw_scenario("[ledger]\nenabled = false\ndeposit_per_member = nan\n", ledger=None),
    ),
    _scenario_row(
        "scenario: consumption up to 1e308",
        "households.annual_consumption_kwh",
        scenario(households__annual_consumption_kwh=[0.0, 1e308]),
    ),
    _scenario_row(
        "scenario: consumption nan",
        "households.annual_consumption_kwh",
        raw_scenario(
            "[households]\ncount = 2\nannual_consumption_kwh = [nan, 1.0]\n", households=None
        ),
    ),
    _scenario_row(
        "scenario: consumption up to inf",
        "households.annual_consumption_kwh",
        raw_scenario(
            "[households]\ncount = 2\nannual_consumption_kwh = [1.0, inf]\n", households=None
        ),
    ),
    _scenario_row(
        "scenario: consumption of one value",
        "households.annual_consumption_kwh",
        scenario(households__annual_consumption_kwh=[1.0]),
    ),
    _scenario_row(
        "scenario: consumption of three values",
        "households.annual_consumption_kwh",
        scenario(households__annual_consumption_kwh=[1.0, 2.0, 3.0]),
    ),
    _scenario_row(
        "scenario: consumption as text",
        "households.annual_consumption_kwh",
        scenario(households__annual_consumption_kwh=["a", "b"]),
    ),
    _scenario_row(
        "scenario: PV of 1e308 kWp",
        "households.pv_kwp",
        scenario(households__pv_kwp=[1e308, 1e308]),
    ),
    _scenario_row(
        "scenario: negative PV", "households.pv_kwp", scenario(households__pv_kwp=[-1.0, 2.0])
    ),
    _scenario_row(
        "scenario: pv_share nan",
        "households.pv_share",
        raw_scenario("[households]\ncount = 2\npv_share = nan\n", households=None),
    ),
    _scenario_row(
        "scenario: pv_share 2", "households.pv_share", scenario(households__pv_share=2.0)
    ),
    _scenario_row("scenario: count 0", "households.count", scenario(households__count=0)),
    _scenario_row("scenario: count 1.5", "households.count", scenario(households__count=1.5)),
    _scenario_row("scenario: count true", "households.count", scenario(households__count=True)),
    _scenario_row("scenario: count 10^6", "households.count", scenario(households__count=10**6)),
    _scenario_row(
        "scenario: a retail price beyond the batch market's",
        "tariffs.retail_per_kwh: the batch market takes prices up to",
        scenario(tariffs={"retail_per_kwh": 5000.0}, ledger={"enabled": True}),
    ),
    _scenario_row(
        "scenario: no load profile",
        "households.load_profiles",
        scenario(households__load_profiles=[]),
    ),
    _scenario_row(
        "scenario: unknown load profile",
        "households.load_profiles",
        scenario(households__load_profiles=["X0"]),
    ),
    _scenario_row(
        "scenario: unknown PV profile",
        "households.pv_profiles",
        scenario(households__pv_profiles=["nope"]),
    ),
    _scenario_row(
        "scenario: markup in the name", "name: must be a file name", scenario(name="[/]")
    ),
    _scenario_row(
        "scenario: name escapes the results folder",
        "name: must be a file name",
        scenario(name="../../x"),
    ),
    _scenario_row("scenario: absolute name", "name: must be a file name", scenario(name="/etc/x")),
    _scenario_row("scenario: empty name", "name:", scenario(name="")),
    _scenario_row("scenario: name '..'", "name: must be a file name", scenario(name="..")),
    _scenario_row(
        "scenario: name with a NUL", "name: must be a file name", scenario(name="a\x00b")
    ),
    _scenario_row(
        "scenario: name with a line break", "name: must be a file name", scenario(name="a\nb")
    ),
    _scenario_row(
        "scenario: name of 1000 characters", "name: must be a file name", scenario(name="n" * 1000)
    ),
    _scenario_row(
        "scenario: output directory empty",
        "output.directory",
        scenario(output={"directory": ""}),
    ),
    _scenario_row(
        "scenario: output directory with a NUL",
        "output.directory",
        scenario(output={"directory": "res\x00ults"}),
    ),
    _scenario_row(
        "scenario: output format xlsx", "output.format", scenario(output={"format": "xlsx"})
    ),
    _scenario_row(
        "scenario: markup in the currency",
        "tariffs.currency",
        scenario(tariffs={"currency": "[/]"}),
    ),
    _scenario_row(
        "scenario: empty currency", "tariffs.currency", scenario(tariffs={"currency": ""})
    ),
    _scenario_row(
        "scenario: long currency", "tariffs.currency", scenario(tariffs={"currency": "X" * 50})
    ),
    _scenario_row(
        "scenario: unknown feeder",
        "feeder.name: unknown feeder 'nowhere'",
        scenario(feeder={"name": "nowhere"}),
    ),
    _scenario_row(
        "scenario: unknown simbench code",
        "feeder.name: 'bogus' is not a SimBench LV grid code",
        scenario(feeder={"name": "simbench:bogus"}),
    ),
    _scenario_row(
        "scenario: simbench without a code",
        "feeder.name",
        scenario(feeder={"name": "simbench:"}),
    ),
    _scenario_row(
        "scenario: start before the profile year",
        "time",
        scenario(time={"slot_minutes": 1440, "start": "2015-01-01"}),
    ),
    _scenario_row("scenario: zero days", "time.days", scenario(time={"days": 0})),
    _scenario_row("scenario: 400 days", "time.days", scenario(time={"days": 400})),
    _scenario_row(
        "scenario: 20-minute slots", "time.slot_minutes", scenario(time={"slot_minutes": 20})
    ),
    _scenario_row(
        "scenario: 0-minute slots", "time.slot_minutes", scenario(time={"slot_minutes": 0})
    ),
    _scenario_row(
        "scenario: negative slots", "time.slot_minutes", scenario(time={"slot_minutes": -15})
    ),
    _scenario_row("scenario: start not a date", "time.start", scenario(time={"start": "June"})),
    _scenario_row(
        "scenario: start with a time of day",
        "time.start",
        raw_scenario("[time]\nslot_minutes = 1440\nstart = 2016-06-09T10:00:00\n", time=None),
    ),
    _scenario_row(
        "scenario: unknown mechanism", "market.mechanism", scenario(market={"mechanism": "vickrey"})
    ),
    _scenario_row(
        "scenario: unknown behaviour", "market.behaviour", scenario(market={"behaviour": "greedy"})
    ),
    _scenario_row(
        "scenario: reference price beyond retail",
        "market.reference_price",
        scenario(market={"reference_price": 5.0}),
    ),
    _scenario_row(
        "scenario: reference price nan",
        "market.reference_price",
        raw_scenario("[market]\nreference_price = nan\n"),
    ),
    _scenario_row(
        "scenario: min order 0", "market.min_order_kwh", scenario(market={"min_order_kwh": 0.0})
    ),
    _scenario_row(
        "scenario: min order inf",
        "market.min_order_kwh",
        raw_scenario("[market]\nmin_order_kwh = inf\n"),
    ),
    _scenario_row(
        "scenario: min order 1e308",
        "market.min_order_kwh",
        scenario(market={"min_order_kwh": 1e308}),
    ),
    _scenario_row(
        "scenario: forecast error nan",
        "market.forecast_error",
        raw_scenario("[market]\nforecast_error = nan\n"),
    ),
    _scenario_row(
        "scenario: late share 1.5",
        "market.late_order_share",
        scenario(market={"late_order_share": 1.5}),
    ),
    _scenario_row(
        "scenario: distance charge nan",
        "market.params: parameter 'distance_charge_per_m' must be a finite number of currency/m",
        raw_scenario(
            '[market]\nmechanism = "dpda+score"\n[market.params]\ndistance_charge_per_m = nan\n'
        ),
    ),
    _scenario_row(
        "scenario: distance charge 1e308",
        "market.params: parameter 'distance_charge_per_m' must be a finite number of "
        "currency/m from 0 to 281474, got 1e+308",
        scenario(market={"mechanism": "dpda+score", "params": {"distance_charge_per_m": 1e308}}),
    ),
    _scenario_row(
        "scenario: distance charge negative",
        "distance_charge_per_m",
        scenario(market={"mechanism": "dpda+score", "params": {"distance_charge_per_m": -1.0}}),
    ),
    _scenario_row(
        "scenario: unknown mechanism parameter",
        "unknown parameter(s) foo",
        scenario(market={"mechanism": "dpda+score", "params": {"foo": 1.0}}),
    ),
    _scenario_row(
        "scenario: welfare parameter as text",
        "s.toml: market.params: parameter 'a' must be a finite number",
        scenario(market={"mechanism": "dpda+score", "params": {"a": "x"}}),
    ),
    _scenario_row(
        "scenario: parameters for a mechanism without any",
        "takes no parameters",
        scenario(market={"mechanism": "dpda", "params": {"a": 1.0}}),
    ),
    _scenario_row(
        "scenario: alpha 0",
        "alpha",
        scenario(market={"mechanism": "dpda+score", "params": {"alpha": 0.0}}),
    ),
    _scenario_row(
        "scenario: income sign unknown",
        "income_sign",
        scenario(market={"mechanism": "dpda+score", "params": {"income_sign": "x"}}),
    ),
    _scenario_row(
        "scenario: parameter nested table",
        "market.params",
        scenario(market={"mechanism": "dpda+score", "params": {"a": {"b": 1}}}),
    ),
    _scenario_row(
        "scenario: v_min above v_max",
        "grid",
        scenario(grid={"power_flow": False, "v_min_pu": 1.2, "v_max_pu": 1.1}),
    ),
    _scenario_row("scenario: v_min 0", "grid.v_min_pu", scenario(grid={"v_min_pu": 0.0})),
    _scenario_row(
        "scenario: v_max inf", "grid.v_max_pu", raw_scenario("[grid]\nv_max_pu = inf\n", grid=None)
    ),
    _scenario_row(
        "scenario: v_max nan", "grid.v_max_pu", raw_scenario("[grid]\nv_max_pu = nan\n", grid=None)
    ),
    _scenario_row("scenario: v_max 100", "grid.v_max_pu", scenario(grid={"v_max_pu": 100.0})),
    _scenario_row(
        "scenario: line loading 0",
        "grid.max_line_loading_pct",
        scenario(grid={"max_line_loading_pct": 0.0}),
    ),
    _scenario_row(
        "scenario: trafo loading inf",
        "grid.max_trafo_loading_pct",
        raw_scenario("[grid]\nmax_trafo_loading_pct = inf\n", grid=None),
    ),
    _scenario_row(
        "scenario: unknown ledger market", "ledger.market", scenario(ledger={"market": "x"})
    ),
    _scenario_row("scenario: ftp rpc", "ledger.rpc", scenario(ledger={"rpc": "ftp://x"})),
    _scenario_row(
        "scenario: rpc without a host", "ledger.rpc", scenario(ledger={"rpc": "http://"})
    ),
    _scenario_row(
        "scenario: rpc port 99999", "ledger.rpc", scenario(ledger={"rpc": "http://h:99999"})
    ),
    _scenario_row(
        "scenario: unknown ledger chain", "ledger.chain", scenario(ledger={"chain": "geth"})
    ),
    _scenario_row(
        "scenario: chain beside rpc",
        "give either rpc",
        scenario(ledger={"chain": "embedded", "rpc": "http://127.0.0.1:1"}),
    ),
    _scenario_row("scenario: unknown section", "foo: unknown field", scenario(foo={"a": 1})),
    _scenario_row("scenario: unknown field", "time.foo: unknown field", scenario(time__foo=1)),
    _scenario_row("scenario: section given a value", "time", scenario(time=5)),
    _scenario_row(
        "scenario: unknown field with a line break",
        "unknown field",
        raw_scenario('"a\\nb" = 1\n'),
    ),
    _scenario_row("scenario: negative seed", "seed", scenario(seed=-1)),
    _scenario_row("scenario: seed 2^70", "seed", scenario(seed=2**70)),
    _scenario_row("scenario: float seed", "seed", scenario(seed=1.5)),
    # Ancillary-service sessions (004_vdma.md) need the devices' data of cigre-mv-vdma.
    _scenario_row(
        "scenario: ancillary sessions on a feeder without devices",
        "ancillary.enabled: feeder 'ieee-eu-lv' has no devices' data",
        scenario(ancillary__enabled=True),
    ),
    _scenario_row(
        "scenario: neither energy market nor sessions",
        "market.enabled: with the energy market off, ancillary.enabled must be true",
        scenario(market__enabled=False),
    ),
    # The EV quota day (001b_book.md ch. 9) runs alone and off chain.
    _scenario_row(
        "scenario: EV quota day beside the energy market",
        "market.enabled: the EV quota day runs alone and off chain",
        scenario(ev_quota__enabled=True, ledger__enabled=False),
    ),
    _scenario_row(
        "scenario: EV share above 1",
        "ev_quota.share: Input should be less than or equal to 1",
        scenario(ev_quota__enabled=True, ev_quota__share=1.5),
    ),
    _scenario_row(
        "scenario: unknown ancillary market",
        "ancillary.mechanism: unknown ancillary-service market 'dpda'",
        scenario(
            feeder__name="cigre-mv-vdma", ancillary__enabled=True, ancillary__mechanism="dpda"
        ),
    ),
    _scenario_row(
        "scenario: ocda on chain",
        "ancillary.mechanism: 'ocda' orders offers by an optimal power flow and runs off chain",
        scenario(
            feeder__name="cigre-mv-vdma",
            ancillary__enabled=True,
            ancillary__mechanism="ocda",
            ancillary__on_chain=True,
            market__enabled=False,
        ),
    ),
    _scenario_row(
        "scenario: ancillary pool set by the scenario",
        "ancillary.params: 'pool' is set by each hourly session",
        scenario(
            feeder__name="cigre-mv-vdma", ancillary__enabled=True, ancillary__params={"pool": "up"}
        ),
    ),
    _scenario_row(
        "scenario: ancillary spread NaN",
        "ancillary.spread",
        raw_scenario("[ancillary]\nspread = nan\n"),
    ),
    _scenario_row(
        "scenario: ancillary sessions beside 45-minute slots",
        "time.slot_minutes: hourly ancillary-service sessions beside the energy market",
        scenario(feeder__name="cigre-mv-vdma", ancillary__enabled=True, time__slot_minutes=45),
    ),
]

# --- run and demo: the results folder --------------------------------------------------------

OUTPUT_ROWS = [
    Bad(
        "run: output folder unwritable",
        ("run", "s.toml", "-o", "/proc/peergrid-x"),
        "/proc/peergrid-x: cannot write",
        {"s.toml": scenario()},
    ),
    Bad(
        "run: output folder is a file",
        ("run", "s.toml", "-o", "f.txt"),
        "f.txt: is a file, not a folder",
        {"s.toml": scenario(), "f.txt": b"x"},
    ),
    Bad(
        "run: output folder below a file",
        ("run", "s.toml", "-o", "f.txt/out"),
        "f.txt/out: cannot write",
        {"s.toml": scenario(), "f.txt": b"x"},
    ),
    Bad(
        "run: output folder holds an earlier run",
        ("run", "s.toml", "-o", "out"),
        "out: the folder is not empty",
        {"s.toml": scenario(), "out/summary.json": b"{}"},
    ),
    Bad(
        "run: the scenario's own folder holds an earlier run",
        ("run", "s.toml"),
        "results/t: the folder is not empty",
        {"s.toml": scenario(), "results/t/slots.csv": b"x"},
    ),
    Bad(
        "run: output folder empty string",
        ("run", "s.toml", "-o", ""),
        ".: the folder is not empty",
        {"s.toml": scenario()},
    ),
    Bad(
        "run: markup in the output folder",
        ("run", "s.toml", "-o", "[/]"),
        "[/]: cannot write",
        {"s.toml": scenario(), "[": b"x"},
    ),
    Bad(
        "run: scenario from stdin, invalid UTF-8",
        ("run", "-", "-o", "out"),
        "<stdin>: not UTF-8",
        stdin=b'name = "' + INVALID_UTF8 + b'"\n',
    ),
    Bad(
        "run: scenario from stdin, 10^400",
        ("run", "-", "-o", "out"),
        "<stdin>: seed: the integer",
        stdin=f"seed = {HUGE}\n".encode(),
    ),
    Bad("demo: output folder unwritable", ("demo", "-o", "/proc/peergrid-x"), "cannot write"),
    Bad(
        "demo: output folder is a file",
        ("demo", "-o", "f.txt"),
        "f.txt: is a file",
        {"f.txt": b"x"},
    ),
    Bad(
        "demo: output folder holds an earlier run",
        ("demo", "-o", "out", "--no-ledger"),
        "out: the folder is not empty",
        {"out/report.html": b"x"},
    ),
    Bad(
        "demo: default folder holds an earlier run",
        ("demo", "--no-ledger"),
        "results/demo: the folder is not empty",
        {"results/demo/report.html": b"x"},
    ),
    Bad(
        "reproduce: output folder unwritable",
        ("reproduce", "dpda", "-o", "/proc/peergrid-x"),
        "cannot write",
    ),
    Bad(
        "reproduce: output folder is a file",
        ("reproduce", "dpda", "-o", "f.txt"),
        "f.txt: is a file",
        {"f.txt": b"x"},
    ),
    Bad(
        "reproduce: output folder holds an earlier run",
        ("reproduce", "dpda", "-o", "out"),
        "out: the folder is not empty",
        {"out/summary.md": b"x"},
    ),
    Bad(
        "reproduce vdma: unknown pool",
        ("reproduce", "vdma", "-o", "out", "--pool", "sideways"),
        "unknown pool 'sideways'",
    ),
    Bad(
        "reproduce vdma: unknown roles",
        ("reproduce", "vdma", "-o", "out", "--roles", "everyone-offers"),
        "--roles: expected one of generators-offer, loads-offer",
    ),
    Bad(
        "reproduce vdma: output folder holds an earlier run",
        ("reproduce", "vdma", "-o", "out"),
        "out: the folder is not empty",
        {"out/summary.md": b"x"},
    ),
    Bad(
        "reproduce: markup in the output folder",
        ("reproduce", "dpda", "-o", "[/]"),
        "[/]: cannot write",
        {"[": b"x"},
    ),
]

# --- order books ----------------------------------------------------------------------------


def book(*orders: dict[str, Any], **top: Any) -> bytes:
    return json.dumps({"orders": list(orders), **top}).encode()


def order(id: str = "a", side: str = "sell", price: Any = 1, quantity_kwh: Any = 1, **more: Any):
    return {"id": id, "side": side, "price": price, "quantity_kwh": quantity_kwh, **more}


PAIR = (order("s", "sell", 1, 5, bus="4"), order("b", "buy", 2, 5, bus="12"))


def clear(text: bytes, *more: str, id: str, error: str) -> Bad:
    return Bad(id, ("clear", "--orders", "b.json", *more), error, {"b.json": text})


def order_with(**fields: str) -> bytes:
    """One sell order (id "a") and one buy (id "b"), with raw JSON literals for ``fields``."""
    parts = {"id": '"a"', "side": '"sell"', "price": "1", "quantity_kwh": "1"}
    parts.update(fields)
    first = "{" + ", ".join(f'"{k}": {v}' for k, v in parts.items()) + "}"
    second = '{"id": "b", "side": "buy", "price": 2, "quantity_kwh": 1}'
    return f'{{"orders": [{first}, {second}]}}'.encode()


ORDER_ROWS = [
    Bad("orders: missing file", ("clear", "--orders", "nowhere.json"), "nowhere.json: cannot read"),
    Bad("orders: a folder", ("clear", "--orders", "sub"), "sub: cannot read", {"sub/x": b""}),
    clear(b'{"orders": [' + INVALID_UTF8 + b"]}", id="orders: invalid UTF-8", error="not UTF-8"),
    Bad(
        "orders: invalid UTF-8 on stdin",
        ("clear", "--orders", "-"),
        "<stdin>: not UTF-8",
        stdin=b'{"orders": [' + INVALID_UTF8 + b"]}",
    ),
    Bad(
        "orders: 10^5 deep on stdin",
        ("clear", "-"),
        "<stdin>: line 1, column 33: nested deeper than 32 levels",
        stdin=b"[" * DEEP + b"]" * DEEP,
        before=("clear", "--orders", "-"),
    ),
    clear('{"orders": []}'.encode("utf-16"), id="orders: UTF-16", error="not UTF-8"),
    clear(b"", id="orders: empty file", error="b.json: not valid JSON"),
    clear(b"  \n ", id="orders: only spaces", error="b.json: not valid JSON"),
    clear(b'{"orders": []}\x00', id="orders: NUL byte", error="b.json: not valid JSON"),
    clear(b'{"orders": [', id="orders: malformed JSON", error="line 1, column 13"),
    clear(b'{"orders": []} x', id="orders: trailing garbage", error="not valid JSON"),
    clear(b"[]", id="orders: a list", error="must be a JSON object"),
    clear(b'"orders"', id="orders: a string", error="must be a JSON object"),
    clear(b"{}", id="orders: no orders", error="'orders'"),
    clear(b'{"orders": {}}', id="orders: orders an object", error="'orders'"),
    clear(b'{"orders": [1]}', id="orders: an order a number", error="must be an object"),
    clear(b'{"orders": [], "params": []}', id="orders: params a list", error="'params'"),
    clear(
        b'{"orders": [], "extra": 1}',
        id="orders: unknown top-level field",
        error="unknown field 'extra'",
    ),
    clear(
        b"[" * DEEP + b"]" * DEEP,
        id="orders: lists nested 10^5 deep",
        error="b.json: line 1, column 33: nested deeper than 32 levels",
    ),
    clear(
        b'{"a":' * DEEP + b"1" + b"}" * DEEP,
        id="orders: objects nested 10^5 deep",
        error="b.json: line 1, column 161: nested deeper than 32 levels",
    ),
    clear(
        order_with(price="[" * 200 + "]" * 200),
        id="orders: price nested 200 deep",
        error="b.json: line 1, column 79: nested deeper than 32 levels",
    ),
    clear(
        order_with(quantity_kwh=HUGE), id="orders: quantity 10^400", error="orders[0].quantity_kwh"
    ),
    clear(order_with(price=HUGE), id="orders: price 10^400", error="orders[0].price"),
    clear(order_with(slot=HUGE), id="orders: slot 10^400", error="orders[0].slot"),
    clear(order_with(submitted_at=HUGE), id="orders: submitted_at 10^400", error="submitted_at"),
    clear(order_with(id=HUGE), id="orders: id 10^400", error="orders[0].id"),
    clear(order_with(price=LONG_DIGITS), id="orders: 5000-digit price", error="5000 digits"),
    clear(order_with(price="1e400"), id="orders: price 1e400", error="orders[0].price"),
    clear(order_with(quantity_kwh="1e400"), id="orders: quantity 1e400", error="quantity_kwh"),
    clear(
        book(order("s1", "sell", 1.7e308, 1), order("b1", "buy", 1.7e308, 1)),
        id="orders: prices near the float limit",
        error="order 's1', field 'price': must be at most",
    ),
    clear(
        book(order("s1", "sell", 1, 1e308), order("s2", "sell", 1, 1e308), order("b", "buy", 2, 1)),
        id="orders: quantities near the float limit",
        error="order 's1', field 'quantity_kwh': must be at most",
    ),
    clear(order_with(price="NaN"), id="orders: price NaN", error="'price'"),
    clear(order_with(price="Infinity"), id="orders: price Infinity", error="'price'"),
    clear(order_with(quantity_kwh="-Infinity"), id="orders: quantity -Infinity", error="quantity"),
    clear(order_with(price="-1"), id="orders: negative price", error="'price'"),
    clear(order_with(quantity_kwh="0"), id="orders: zero quantity", error="'quantity_kwh'"),
    clear(order_with(price='"1"'), id="orders: price as text", error="'price'"),
    clear(order_with(price="true"), id="orders: price true", error="'price'"),
    clear(order_with(side='"hold"'), id="orders: unknown side", error="'side'"),
    clear(order_with(side="1"), id="orders: side a number", error="'side'"),
    clear(
        b'{"orders": [{"id": "a", "id": "b", "side": "sell", "price": 1, "quantity_kwh": 1}]}',
        id="orders: duplicate key in an order",
        error="orders[0]: the key 'id' appears twice",
    ),
    clear(
        b'{"orders": [], "orders": [{"id": "a", "side": "sell", "price": 1, "quantity_kwh": 1}]}',
        id="orders: duplicate orders key",
        error="the key 'orders' appears twice",
    ),
    clear(order_with(id='""'), id="orders: empty id", error="'id'"),
    clear(order_with(id="null"), id="orders: null id", error="'id'"),
    clear(order_with(id="true"), id="orders: id true", error="'id'"),
    clear(order_with(id='["a"]'), id="orders: id a list", error="'id'"),
    clear(
        order_with(id=json.dumps("x" * 100_000)), id="orders: id of 10^5 characters", error="'id'"
    ),
    clear(order_with(agent='{"x": 1}'), id="orders: agent an object", error="'agent'"),
    clear(order_with(bus="[4]"), id="orders: bus a list", error="'bus'"),
    clear(order_with(max_distance_m="-1"), id="orders: negative radius", error="max_distance_m"),
    clear(order_with(max_distance_m="NaN"), id="orders: radius NaN", error="max_distance_m"),
    clear(order_with(max_distance_m="1e300"), id="orders: radius 1e300", error="max_distance_m"),
    clear(order_with(slot="-1"), id="orders: negative slot", error="'slot'"),
    clear(order_with(slot="1.5"), id="orders: fractional slot", error="'slot'"),
    clear(order_with(slot="1e20"), id="orders: slot beyond the ledger", error="'slot'"),
    clear(order_with(submitted_at="-1"), id="orders: negative submitted_at", error="submitted_at"),
    clear(
        order_with(submitted_at=str(2**70)),
        id="orders: submitted_at 2^70",
        error="submitted_at",
    ),
    clear(order_with(colour='"red"'), id="orders: unknown field", error="'colour'"),
    clear(
        b'{"orders": [{"id": "a", "side": "sell", "quantity_kwh": 1}]}',
        id="orders: missing price",
        error="'price'",
    ),
    clear(
        book(order("e", "buy"), order("e", "sell")), id="orders: duplicate id", error="duplicate"
    ),
    clear(
        book(*(order(f"o{i}", "sell" if i % 2 else "buy") for i in range(100_001))),
        id="orders: more than the book's limit",
        error="at most",
    ),
    clear(
        book(*PAIR, params={"distance_charge_per_m": float("nan")}),
        "-m",
        "dpda+score",
        "--feeder",
        "ieee-eu-lv-reduced",
        id="orders: params distance charge NaN",
        error="distance_charge_per_m",
    ),
    clear(
        book(*PAIR, params={"omega": 1e308}),
        "-m",
        "dpda+score",
        "--feeder",
        "ieee-eu-lv-reduced",
        id="orders: params omega 1e308",
        error="omega",
    ),
]

# --- ancillary-service sessions (cda, ncda, ocda) -------------------------------------------

ASK, OFFER = order("A1", "buy", 0.40, 3, bus="14"), order("O1", "sell", 0.33, 2, bus="7")
VDMA = ("--feeder", "cigre-mv-vdma")


def service(text: bytes, mechanism: str, *more: str, id: str, error: str) -> Bad:
    return clear(text, "-m", mechanism, *more, id=id, error=error)


SERVICE_ROWS = [
    service(
        book(ASK, order("O9", "sell", 0.3, 1, bus="99")),
        "ncda",
        *VDMA,
        id="service: a bus the feeder does not have",
        error="order 'O9', field 'bus': '99' is not a bus of feeder 'cigre-mv-vdma'",
    ),
    service(
        book(ASK, order("O9", "sell", 0.3, 1, bus="99")),
        "cda",
        *VDMA,
        id="service: cda on a bus the feeder does not have",
        error="order 'O9', field 'bus'",
    ),
    service(
        book(ASK, order("O9", "sell", 0.3, 1)),
        "ocda",
        *VDMA,
        id="service: ocda order without a bus",
        error="order 'O9', field 'bus': is missing",
    ),
    service(
        book(ASK, OFFER, pool="sideways"),
        "cda",
        id="service: unknown pool",
        error="field 'pool': unknown pool 'sideways'",
    ),
    service(
        book(ASK, OFFER, pool="up", params={"pool": "down"}),
        "cda",
        id="service: two pools",
        error="field 'pool'",
    ),
    service(
        book(ASK, OFFER),
        "ncda",
        *VDMA,
        "--param",
        "pool=left",
        id="service: unknown pool as a parameter",
        error="unknown pool 'left'",
    ),
    service(
        book(ASK, order("O0", "sell", 0.3, 0, bus="4")),
        "ncda",
        *VDMA,
        id="service: zero quantity",
        error="order 'O0', field 'quantity_kwh'",
    ),
    service(
        book(ASK, order("O0", "sell", 0.3, -2, bus="4")),
        "cda",
        id="service: negative quantity",
        error="order 'O0', field 'quantity_kwh'",
    ),
    service(
        b'{"orders": [{"id": "A1", "side": "buy", "bus": "14", "price": NaN, "quantity_kwh": 1}]}',
        "ncda",
        *VDMA,
        id="service: price NaN",
        error="'price'",
    ),
    service(
        book(ASK, OFFER),
        "ncda",
        id="service: ncda without a feeder",
        error="mechanism 'ncda' needs a feeder",
    ),
    service(
        book(ASK, OFFER),
        "ocda",
        id="service: ocda without a feeder",
        error="mechanism 'ocda' needs a feeder",
    ),
    service(
        book(order("a", "buy", 0.4, 1, bus="5"), order("b", "sell", 0.3, 1, bus="6")),
        "ocda",
        "--feeder",
        "case33bw",
        id="service: ocda on a feeder without line ratings",
        error="OCDA's OPF needs the line limits",
    ),
    service(
        book(ASK, OFFER),
        "cda",
        "--param",
        "max_fills=-1",
        id="service: negative max_fills",
        error="max_fills",
    ),
    service(
        book(ASK, OFFER),
        "ncda",
        *VDMA,
        "--param",
        "distance=crow",
        id="service: unknown distance",
        error="distance",
    ),
    service(
        book(ASK, OFFER, pool="up"),
        "dpda",
        id="service: a pool given to an energy market",
        error="takes no parameters, got pool",
    ),
    _scenario_row(
        "scenario: an ancillary-service market as the energy market",
        "ancillary-service market",
        scenario(market={"mechanism": "ncda"}),
    ),
]

# --- clear: the command line -----------------------------------------------------------------

GOOD = book(*PAIR)
SCORE = ("-m", "dpda+score", "--feeder", "ieee-eu-lv-reduced")


def param(value: str, *more: str, id: str, error: str) -> Bad:
    return clear(GOOD, *SCORE, "--param", value, *more, id=id, error=error)


CLEAR_ROWS = [
    Bad("clear: no order file", ("clear",), "give the order file"),
    Bad(
        "clear: two order files",
        ("clear", "b.json", "--orders", "b.json"),
        "give the order file once",
        {"b.json": GOOD},
        before=("clear", "--orders", "b.json", "--orders", "b.json"),
    ),
    param("distance_charge_per_m=NaN", id="param: distance charge NaN", error="distance_charge"),
    param(
        "distance_charge_per_m=1e400", id="param: distance charge 1e400", error="distance_charge"
    ),
    param(
        "distance_charge_per_m=1e308", id="param: distance charge 1e308", error="distance_charge"
    ),
    param(
        "distance_charge_per_m=-1", id="param: distance charge negative", error="distance_charge"
    ),
    param("distance_charge_per_m=x", id="param: distance charge text", error="distance_charge"),
    param(
        "a=x", id="param: welfare a as text", error="--param: parameter 'a' must be a finite number"
    ),
    param(
        "a=1e308",
        id="param: welfare a 1e308",
        error="--param: parameter 'a' must be a finite number",
    ),
    param("omega=Infinity", id="param: omega Infinity", error="omega"),
    param("alpha=0", id="param: alpha 0", error="alpha"),
    param("alpha=-1", id="param: alpha negative", error="alpha"),
    param("income_sign=x", id="param: income sign unknown", error="income_sign"),
    param("saturation=5", id="param: saturation a number", error="saturation"),
    param("noequals", id="param: no equals sign", error="expected key=value"),
    param("=5", id="param: no key", error="expected key=value"),
    param("zeta=1", id="param: unknown parameter", error="unknown parameter(s) zeta"),
    param(
        "a=" + "[" * 30_000 + "]" * 30_000, id="param: value nested 3*10^4 deep", error="--param a"
    ),
    param("a=" + LONG_DIGITS, id="param: value of 5000 digits", error="--param a"),
    param("a=" + HUGE, id="param: value 10^400", error="--param a"),
    clear(GOOD, "--param", "a=1", id="param: for a mechanism without any", error="takes no"),
    clear(GOOD, "-m", "vickrey", id="clear: unknown mechanism", error="unknown mechanism"),
    clear(GOOD, "-m", "", id="clear: empty mechanism", error="unknown mechanism"),
    clear(
        GOOD,
        "-m",
        "vickrey",
        "--feeder",
        "ieee-eu-lv",
        id="clear: unknown mechanism with a feeder",
        error="unknown mechanism",
    ),
    clear(GOOD, "-m", "dpda+score", id="clear: score without a feeder", error="needs a feeder"),
    clear(
        GOOD,
        "-m",
        "dpda+score",
        "--feeder",
        "nowhere",
        id="clear: unknown feeder",
        error="unknown feeder",
    ),
    clear(
        book(order("s", "sell", 1, 5), order("b", "buy", 2, 5)),
        *SCORE,
        id="clear: score orders without a bus",
        error="'bus'",
    ),
    clear(
        book(order("s", "sell", 1, 5, bus="4"), order("b", "buy", 2, 5, bus="500")),
        *SCORE,
        id="clear: bus off the feeder",
        error="'bus'",
    ),
]

# --- grid ------------------------------------------------------------------------------------

FEEDER = "case33bw"
INJ = json.dumps({"buses": [3, 7], "p_kw": [[1.0, -1.0]]}).encode()


def validate(name: str, text: bytes, *more: str, id: str, error: str) -> Bad:
    return Bad(
        id,
        ("grid", "validate", FEEDER, name, *more),
        error,
        {name: text},
        before=("grid", "validate", FEEDER, "--injections", name, *more),
    )


def inj(**fields: str) -> bytes:
    parts = {"buses": "[3, 7]", "p_kw": "[[1.0, -1.0]]"}
    parts.update(fields)
    return ("{" + ", ".join(f'"{k}": {v}' for k, v in parts.items() if v) + "}").encode()


GRID_ROWS = [
    Bad("grid show: unknown feeder", ("grid", "show", "nowhere"), "unknown feeder"),
    Bad("grid show: bad simbench code", ("grid", "show", "simbench:x"), "SimBench"),
    Bad(
        "grid show: picture unwritable",
        ("grid", "show", FEEDER, "--out-file", "/proc/peergrid-x.png"),
        "/proc/peergrid-x.png: cannot write",
        before=("grid", "show", FEEDER, "--picture", "/proc/peergrid-x.png"),
    ),
    Bad(
        "grid show: picture exists",
        ("grid", "show", FEEDER, "--out-file", "f.png"),
        "f.png: the file exists",
        {"f.png": b"x"},
        before=("grid", "show", FEEDER, "--picture", "f.png"),
    ),
    Bad(
        "grid show: default picture exists",
        ("grid", "show", FEEDER),
        "case33bw.png: the file exists",
        {"case33bw.png": b"x"},
    ),
    Bad(
        "grid show: picture is a folder",
        ("grid", "show", FEEDER, "--out-file", "sub"),
        "sub: is a folder",
        {"sub/x": b""},
        before=("grid", "show", FEEDER, "--picture", "sub"),
    ),
    Bad(
        "grid show: picture of an unknown type",
        ("grid", "show", FEEDER, "--out-file", "f.txt"),
        "f.txt: unknown picture type",
        before=("grid", "show", FEEDER, "--picture", "f.txt"),
    ),
    Bad("grid distances: unknown feeder", ("grid", "distances", "nowhere"), "unknown feeder"),
    Bad(
        "grid distances: unknown metric",
        ("grid", "distances", FEEDER, "--metric", "bogus"),
        "unknown metric",
    ),
    Bad(
        "grid distances: bus not a number",
        ("grid", "distances", FEEDER, "--buses", "x"),
        "'x' is not a bus id",
    ),
    Bad(
        "grid distances: bus off the feeder",
        ("grid", "distances", FEEDER, "--buses", "1,99999"),
        "bus 99999",
    ),
    Bad(
        "grid distances: empty bus list",
        ("grid", "distances", FEEDER, "--buses", ","),
        "--buses",
    ),
    Bad(
        "grid validate: missing injection file",
        ("grid", "validate", FEEDER, "nowhere.json"),
        "nowhere.json: cannot read",
        before=("grid", "validate", FEEDER, "--injections", "nowhere.json"),
    ),
    Bad(
        "grid validate: injection file a folder",
        ("grid", "validate", FEEDER, "sub.json"),
        "sub.json: cannot read",
        {"sub.json/x": b""},
        before=("grid", "validate", FEEDER, "--injections", "sub.json"),
    ),
    Bad(
        "grid validate: unknown feeder",
        ("grid", "validate", "nowhere", "i.json"),
        "unknown feeder",
        {"i.json": INJ},
        before=("grid", "validate", "nowhere", "--injections", "i.json"),
    ),
    validate("i.txt", b"", id="injections: unknown suffix", error="unknown injection file type"),
    validate(
        "i.json",
        b'{"buses": [' + INVALID_UTF8 + b"]}",
        id="injections: invalid UTF-8 JSON",
        error="i.json: not UTF-8",
    ),
    validate(
        "i.csv",
        b"slot,p_kw:3\n0," + INVALID_UTF8 + b"\n",
        id="injections: invalid UTF-8 CSV",
        error="i.csv: not UTF-8",
    ),
    validate(
        "i.csv",
        "slot,p_kw:3\n0,1\n".encode("utf-16"),
        id="injections: UTF-16 CSV",
        error="i.csv: not UTF-8",
    ),
    validate(
        "i.csv",
        b"slot,p_kw:3\n0,1\x00\n",
        id="injections: NUL in CSV",
        error="i.csv: slot 0, bus 3: p_kw is '1\\x00'",
    ),
    validate(
        "i.csv",
        b'slot,p_kw:3\n0,"' + b"1" * 200_000 + b'"\n',
        id="injections: huge CSV field",
        error="i.csv: line 2",
    ),
    validate("i.csv", b"slot,p_kw:3\n", id="injections: CSV without slots", error="no slots"),
    validate("i.json", inj(p_kw="[]"), id="injections: JSON without slots", error="no slots"),
    validate(
        "i.json",
        inj(buses="[]", p_kw="[[]]"),
        id="injections: JSON without buses",
        error="no buses",
    ),
    validate(
        "i.json",
        b"[" * DEEP + b"]" * DEEP,
        id="injections: nested 10^5 deep",
        error="i.json: line 1, column 33: nested deeper than 32 levels",
    ),
    validate(
        "i.json",
        inj(p_kw=f"[[{HUGE}, 1]]"),
        id="injections: p_kw 10^400",
        error="i.json: p_kw[0][0]: the integer",
    ),
    validate(
        "i.json",
        inj(buses=f"[{HUGE}, 7]"),
        id="injections: bus 10^400",
        error="i.json: buses[0]: the integer",
    ),
    validate(
        "i.json",
        inj(p_kw="[[1e400, 1]]"),
        id="injections: p_kw 1e400",
        error="i.json: p_kw[0][0]: the number 1e400",
    ),
    validate(
        "i.json",
        inj(p_kw="[[1e300, 1]]"),
        id="injections: p_kw 1e300",
        error="slot 0, bus 3: p_kw is 1e+300",
    ),
    validate(
        "i.json",
        inj(q_kvar="[[1, -1e300]]"),
        id="injections: q_kvar -1e300",
        error="slot 0, bus 7: q_kvar is -1e+300",
    ),
    validate("i.json", inj(p_kw="[[NaN, 1]]"), id="injections: p_kw NaN", error="p_kw is nan"),
    validate(
        "i.json",
        b'{"buses": [3], "buses": [7], "p_kw": [[1]]}',
        id="injections: duplicate key",
        error="the key 'buses' appears twice",
    ),
    validate("i.json", b"[]", id="injections: a list", error="expected a JSON object"),
    validate("i.json", inj(p_kw="[[1.0]]"), id="injections: short row", error="2 values"),
    validate(
        "i.json", inj(buses="[3, 9999]"), id="injections: bus off the feeder", error="bus 9999"
    ),
    validate("i.json", inj(buses='["3", 7]'), id="injections: bus as text", error="'buses'"),
    validate(
        "i.json",
        inj(slots="[0, 1]"),
        id="injections: more slots than rows",
        error="2 slots but 1 rows",
    ),
    validate("i.json", inj(p_kw='[["x", 1]]'), id="injections: text value", error="not a number"),
    validate("i.json", inj(colour="1"), id="injections: unknown field", error="'colour'"),
    validate("i.csv", b"bus,p_kw:3\n0,1\n", id="injections: CSV bad first column", error="'slot'"),
    validate(
        "i.csv",
        b"slot,p_kw:x\n0,1\n",
        id="injections: CSV bus not a number",
        error="'x' is not an integer",
    ),
    validate("i.csv", b"slot,p_kw:3\n0,\n", id="injections: CSV missing value", error="missing"),
    validate("i.csv", b"slot,p_kw:3\n0,nan\n", id="injections: CSV nan", error="p_kw is nan"),
    validate("i.csv", b"slot,p_kw:3\n0,1e400\n", id="injections: CSV 1e400", error="p_kw is inf"),
    validate(
        "i.csv", b"slot,p_kw:3\nx,1\n", id="injections: CSV slot not a number", error="slot 'x'"
    ),
    validate(
        "i.csv",
        b"slot,p_kw:3\n0,1\n0,2\n",
        id="injections: CSV duplicate slot",
        error="slot 0 appears more than once",
    ),
    validate(
        "i.csv",
        b"slot,p_kw:3,p_kw:3\n0,1,1\n",
        id="injections: CSV duplicate column",
        error="appears more than once",
    ),
    validate("i.csv", b"slot,q_kvar:3\n0,1\n", id="injections: CSV q without p", error="no p_kw"),
    validate(
        "i.csv", b"slot,p_kw:3\n0,1,2\n", id="injections: CSV long row", error="line 2: 3 values"
    ),
    validate(
        "i.json",
        INJ,
        "--max-loading-pct",
        "0",
        id="validate: loading limit 0",
        error="--max-loading-pct",
    ),
    validate(
        "i.json",
        INJ,
        "--max-loading-pct",
        "-5",
        id="validate: negative loading limit",
        error="--max-loading-pct",
    ),
    validate(
        "i.json",
        INJ,
        "--max-loading-pct",
        "nan",
        id="validate: loading limit nan",
        error="--max-loading-pct",
    ),
    validate(
        "i.json",
        INJ,
        "--max-loading-pct",
        "inf",
        id="validate: loading limit inf",
        error="--max-loading-pct",
    ),
    validate(
        "i.json",
        INJ,
        "--v-min-pu",
        "1.2",
        "--v-max-pu",
        "1.1",
        id="validate: v_min above v_max",
        error="--v-min-pu",
    ),
    validate("i.json", INJ, "--v-min-pu", "0", id="validate: v_min 0", error="--v-min-pu"),
    validate("i.json", INJ, "--v-min-pu", "-1", id="validate: v_min negative", error="--v-min-pu"),
    validate("i.json", INJ, "--v-max-pu", "100", id="validate: v_max 100", error="--v-max-pu"),
    validate("i.json", INJ, "--v-min-pu", "nan", id="validate: v_min nan", error="--v-min-pu"),
    validate("i.json", INJ, "--v-max-pu", "inf", id="validate: v_max inf", error="--v-max-pu"),
]

# --- chain, deploy and the command line itself ------------------------------------------------

CHAIN_ROWS = [
    Bad("chain up: port -1", ("chain", "up", "--port", "-1"), "--port"),
    Bad("chain up: port 70000", ("chain", "up", "--port", "70000"), "--port"),
    Bad("chain up: port not a number", ("chain", "up", "--port", "abc"), "--port"),
    Bad("chain up: block time 0", ("chain", "up", "--block-time", "0"), "--block-time"),
    Bad("chain up: block time negative", ("chain", "up", "--block-time", "-1"), "--block-time"),
    Bad("chain up: block time nan", ("chain", "up", "--block-time", "nan"), "--block-time"),
    Bad("chain up: block time inf", ("chain", "up", "--block-time", "inf"), "--block-time"),
    Bad(
        "chain up: state unwritable",
        ("chain", "up", "--port", "0", "--state", "/proc/peergrid-x/state.json"),
        "/proc/peergrid-x/state.json: cannot write",
    ),
    Bad(
        "chain up: state a folder",
        ("chain", "up", "--port", "0", "--state", "sub"),
        "sub: is a folder",
        {"sub/x": b""},
    ),
    Bad(
        "chain up: state below a file",
        ("chain", "up", "--port", "0", "--state", "f.txt/state.json"),
        "cannot write",
        {"f.txt": b"x"},
    ),
    Bad("deploy: no rpc", ("deploy",), "Missing option '--rpc'"),
    Bad(
        "deploy: supply not a number",
        ("deploy", "--rpc", "http://x", "--supply-micro", "x"),
        "--supply-micro",
    ),
    Bad(
        "deploy: keys file not JSON",
        ("deploy", "--rpc", "http://127.0.0.1:9", "--keys", "roles.json"),
        "deploy: --keys: roles.json:",
        {"roles.json": b"{"},
    ),
    Bad(
        "deploy: keys file without the meter",
        ("deploy", "--rpc", "http://127.0.0.1:9", "--keys", "roles.json"),
        "no key for 'meter'",
        {
            "roles.json": json.dumps(
                {
                    r: "0x" + c * 64
                    for r, c in zip(("operator", "dso", "issuer"), "123", strict=True)
                }
            ).encode()
        },
    ),
    Bad(
        "consortium init: no output",
        ("chain", "consortium", "init"),
        "Missing option '--output'",
    ),
    Bad(
        "consortium init: no validator",
        ("chain", "consortium", "init", "-o", "net", "--validators", "0"),
        "--validators must be 1 to 200, got 0",
    ),
    Bad(
        "consortium init: chain id negative",
        ("chain", "consortium", "init", "-o", "net", "--chain-id", "-5"),
        "--chain-id: the chain id must be 1 to",
    ),
    Bad(
        "consortium init: folder not empty",
        ("chain", "consortium", "init", "-o", "net"),
        "net: the folder is not empty; pass --overwrite",
        {"net/genesis.json": b"{}"},
    ),
    Bad(
        "consortium init: output is a file",
        ("chain", "consortium", "init", "-o", "f.txt"),
        "f.txt: is a file, not a folder",
        {"f.txt": b"x"},
    ),
]

COMMAND_ROWS = [
    Bad("command: unknown command", ("nosuch",), "No such command 'nosuch'"),
    Bad("command: unknown grid command", ("grid", "nosuch"), "No such command 'nosuch'"),
    Bad("command: run without a scenario", ("run",), "Missing argument"),
    Bad("command: unknown option", ("run", "--bogus", "s.toml"), "No such option: --bogus"),
    Bad("command: two scenarios", ("run", "a.toml", "b.toml"), "unexpected extra argument"),
    Bad("command: grid validate without a feeder", ("grid", "validate"), "Missing argument"),
    Bad("command: mechanisms with an argument", ("mechanisms", "x"), "unexpected extra argument"),
    Bad("command: bench gas bad option", ("bench", "gas", "--csv"), "No such option: --csv"),
]

# --- EV charging quota auction (ev-quota) -----------------------------------------------------

STATIONS = [
    {"id": "A", "demand_kwh": 36, "rating_kw": 50},
    {"id": "B", "demand_kwh": 48, "rating_kw": 50},
]
QUOTA = {"capacity_margin_kw": 60}


def quota(*orders: dict[str, Any], id: str, error: str, **top: Any) -> Bad:
    fields = {"evs": STATIONS, "params": QUOTA, **top}
    return clear(book(*orders, **fields), "-m", "ev-quota", id=id, error=error)


EV_QUOTA_ROWS = [
    quota(
        evs=[{"id": "A", "demand_kwh": 60, "rating_kw": 50}],
        id="ev-quota: demand above the charger's rating",
        error="station 'A': 'demand_kwh' 60 exceeds its charger rating of 50 kW",
    ),
    quota(
        evs=[*STATIONS, {"id": "A", "demand_kwh": 1, "rating_kw": 5}],
        id="ev-quota: a duplicate station",
        error="duplicate station 'A' in 'evs'",
    ),
    quota(
        order("q", "sell", 20, 1, agent="Z"),
        id="ev-quota: an order from no station",
        error="order 'q', field 'agent': station 'Z' is not among the 'evs'",
    ),
    quota(
        order("q", "sell", 20, 1, agent="C"),
        evs=[*STATIONS, {"id": "C", "demand_kwh": 0, "rating_kw": 5}],
        id="ev-quota: an order from a station with no quota",
        error="order 'q', field 'agent': station 'C' has no quota",
    ),
    quota(
        order("A", "sell", -1, 1),
        id="ev-quota: a negative price",
        error="order 'A', field 'price': must be a non-negative finite number, got -1",
    ),
    quota(
        order("A", "sell", 20, 1),
        order("A2", "buy", 20, 1, agent="A"),
        id="ev-quota: two orders from one station",
        error="order 'A2', field 'agent': station 'A' already placed order 'A'",
    ),
    quota(
        order("A", "sell", 20, 40),
        id="ev-quota: an offer above the station's quota",
        error="order 'A', field 'quantity_kwh': offers 40 kWh but station 'A' holds a quota",
    ),
    quota(
        order("A", "buy", 20, 40),
        id="ev-quota: a bid beyond the charger's rating",
        error="order 'A', field 'quantity_kwh': bids for 40 kWh but station 'A' can take",
    ),
    quota(
        params={},
        id="ev-quota: no capacity margin",
        error="params.capacity_margin_kw",
    ),
    quota(
        params={"capacity_margin_kw": -5},
        id="ev-quota: a negative margin",
        error="field 'params.capacity_margin_kw': must be a finite number from 0",
    ),
    quota(
        evs=[],
        id="ev-quota: no stations",
        error="ev-quota needs the charging stations",
    ),
    quota(
        evs=[{"id": "A", "demand_kwh": 3}],
        id="ev-quota: a station without a rating",
        error="evs[0] has no 'rating_kw'",
    ),
    quota(
        params={**QUOTA, "pricing": "uniform"},
        id="ev-quota: an unknown pricing",
        error="field 'params.pricing': must be one of mid-point, uniform-last",
    ),
    clear(
        book(order(), evs=STATIONS),
        id="orders: stations given to a mechanism without them",
        error="evs",
    ),
]

# --- DVPP battery set-points (peergrid dvpp setpoints) -----------------------------------------


def dvpp(document: Any, *more: str, id: str, error: str) -> Bad:
    text = document if isinstance(document, bytes) else json.dumps(document).encode()
    return Bad(id, ("dvpp", "setpoints", "--input", "s.json", *more), error, {"s.json": text})


def batteries(*items: dict[str, Any], target: Any = 1000) -> dict[str, Any]:
    return {"target_w": target, "batteries": list(items)}


B1 = {"id": "b1", "soc": 0.5, "p_opt_w": 3000}

DVPP_ROWS = [
    dvpp(
        batteries({**B1, "soc": 1.2}),
        id="dvpp: a state of charge above 1",
        error="s.json: batteries[0]: battery 'b1': 'soc' must be a state of charge from 0 to 1",
    ),
    dvpp(
        batteries({**B1, "soc": -0.1}),
        id="dvpp: a negative state of charge",
        error="'soc' must be a state of charge from 0 to 1, got -0.1",
    ),
    dvpp(
        batteries({**B1, "p_opt_w": -3000}),
        id="dvpp: a negative power rating",
        error="battery 'b1': 'p_opt_w' must be a power above 0",
    ),
    dvpp(batteries(B1, B1), id="dvpp: a battery twice", error="battery 'b1' is listed twice"),
    dvpp(batteries(B1, target="x"), id="dvpp: a target not a number", error="'target_w'"),
    dvpp({"batteries": [B1]}, id="dvpp: no target", error="s.json: has no 'target_w'"),
    dvpp(batteries(), id="dvpp: no batteries", error="'batteries' must be a non-empty list"),
    dvpp(
        batteries({"id": "b1", "soc": 0.5}),
        id="dvpp: a battery without its optimum",
        error="batteries[0] has no 'p_opt_w'",
    ),
    dvpp(
        batteries({**B1, "kwh": 8}),
        id="dvpp: an unknown battery field",
        error="batteries[0]: unknown field 'kwh'",
    ),
    dvpp(batteries(B1), "--rule", "best", id="dvpp: an unknown rule", error="--rule"),
    dvpp(b"{", id="dvpp: malformed JSON", error="s.json: not valid JSON"),
]

# --- peergrid reproduce dvpp --------------------------------------------------------------------


def reproduce_dvpp(*more: str, id: str, error: str) -> Bad:
    return Bad(id, ("reproduce", "dvpp", "-o", "out", *more), error, {})


REPRODUCE_DVPP_ROWS = [
    reproduce_dvpp("--days", "0", id="reproduce dvpp: no days", error="days: expected 1..28"),
    reproduce_dvpp("--days", "40", id="reproduce dvpp: past May", error="days: expected 1..28"),
    reproduce_dvpp(
        "--households", "0", id="reproduce dvpp: no households", error="households: expected"
    ),
    reproduce_dvpp(
        "--households",
        "60",
        id="reproduce dvpp: more households than the feeder's buses",
        error="fewer than the 60 households",
    ),
    reproduce_dvpp("--rule", "best", id="reproduce dvpp: an unknown rule", error="--rule"),
    reproduce_dvpp("--curve", "ideal", id="reproduce dvpp: an unknown curve", error="--curve"),
    reproduce_dvpp(
        "--warmup-hours",
        "-1",
        id="reproduce dvpp: a negative warm-up",
        error="--warmup-hours",
    ),
    reproduce_dvpp(
        "--feeder", "nowhere", id="reproduce dvpp: an unknown feeder", error="unknown feeder"
    ),
]

# --- peergrid reproduce bder --------------------------------------------------------------------


def reproduce_bder(*more: str, id: str, error: str) -> Bad:
    return Bad(id, ("reproduce", "bder", "-o", "out", *more), error, {})


REPRODUCE_BDER_ROWS = [
    reproduce_bder("--days", "0", id="reproduce bder: no days", error="--days: expected 1..7"),
    reproduce_bder(
        "--days", "8", id="reproduce bder: past the week", error="--days: expected 1..7"
    ),
    reproduce_bder(
        "--households",
        "1",
        id="reproduce bder: one household",
        error="--households: expected 2..39",
    ),
    reproduce_bder(
        "--households",
        "40",
        id="reproduce bder: more households than customer buses",
        error="--households: expected 2..39",
    ),
    reproduce_bder(
        "--max-iterations", "0", id="reproduce bder: no iterations", error="--max-iterations"
    ),
]

ROWS: list[Bad] = [
    *SCENARIO_ROWS,
    *OUTPUT_ROWS,
    *ORDER_ROWS,
    *SERVICE_ROWS,
    *EV_QUOTA_ROWS,
    *DVPP_ROWS,
    *REPRODUCE_DVPP_ROWS,
    *REPRODUCE_BDER_ROWS,
    *CLEAR_ROWS,
    *GRID_ROWS,
    *CHAIN_ROWS,
    *COMMAND_ROWS,
]
