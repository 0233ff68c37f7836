"""Running the VDMA reproduction and writing it: CSV tables, figures, summary.json, summary.md.

:func:`reproduce_vdma` runs the random-shout study (:mod:`.study`) and the cost study
(:mod:`.cost`) and writes into one directory:

- ``runs.csv``: every run and mechanism (shouts, matches, AC check, indices);
- ``by_s_and_mechanism.csv``: per spread s and mechanism, the share of solutions within the
  limits and the means of the indices; ``s_<s>.csv``: the same rows of one s;
- ``gas_placements.csv``, ``gas_sessions.csv``: every placement and session measured on the
  15-node feeder; ``gas_growth.csv``: the figures of each random tree;
- ``network.png``, ``gas_growth.png``;
- ``summary.json`` (the headline and every figure of the summary) and ``summary.md`` (the
  paper's numbers beside ours, each difference explained).

The headline (:attr:`VdmaReproduction.headline`) is what ``peergrid reproduce vdma --json``
prints: ``{"constraint_satisfaction": {mechanism: share}, "eur_per_shout",
"eur_per_day_per_brp", "eur_per_day_clearing"}``, the shares over every run of every s, the
costs those of the 15-node feeder.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from peergrid.core.orders import Side
from peergrid.ledger.chain.gas import EUR_PER_GAS
from peergrid.sim.ancillary.network import FEEDER, LIMIT_TOLERANCE, NetworkCheck, Outcome
from peergrid.sim.reproduce.vdma.cost import (
    ROUNDS,
    SESSIONS_PER_DAY,
    SHOUT_FRACTION,
    TREE_SIZES,
    CostStudy,
    run_cost_study,
)
from peergrid.sim.reproduce.vdma.figures import gas_figure, network_figure
from peergrid.sim.reproduce.vdma.study import (
    ClearSession,
    Progress,
    StudySettings,
    clear_with_registry,
    run_study,
)
from peergrid.sim.reproduce.vdma.summary import summary_markdown

INDEX_COLUMNS = ("mean_line_loading_pct", "losses_share", "mean_v_pu", "std_v_pu")


@dataclass(frozen=True)
class VdmaSettings:
    """Both studies' settings; the defaults reproduce the paper's setup."""

    study: StudySettings = field(default_factory=StudySettings)
    rounds: int = ROUNDS
    fraction: float = SHOUT_FRACTION
    tree_sizes: tuple[int, ...] = TREE_SIZES


@dataclass(frozen=True)
class VdmaReproduction:
    """What :func:`reproduce_vdma` wrote and its headline."""

    paths: dict[str, Path]
    headline: dict[str, Any]
    seconds: dict[str, float]


def reproduce_vdma(
    directory: Path,
    settings: VdmaSettings | None = None,
    *,
    clear: ClearSession = clear_with_registry,
    progress: Progress | None = None,
) -> VdmaReproduction:
    """Run both studies and write every table, figure and summary into ``directory``."""
    settings = settings or VdmaSettings()
    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    runs = run_study(settings.study, clear, progress)
    network_seconds = time.perf_counter() - started
    started = time.perf_counter()
    cost = run_cost_study(
        settings.rounds,
        seed=settings.study.seed,
        tree_sizes=settings.tree_sizes,
        fraction=settings.fraction,
        progress=progress,
    )
    seconds = {
        "network_study": network_seconds,
        "cost_study": time.perf_counter() - started,
        **{
            f"clearing_{m}": float(t)
            for m, t in runs.groupby("mechanism", sort=False).clear_seconds.sum().items()
        },
    }
    table = by_s_and_mechanism(runs)
    overall = overall_shares(runs)
    cigre = cost.cigre.summary()
    headline = {
        "constraint_satisfaction": overall,
        "eur_per_shout": cigre["eur_per_shout"],
        "eur_per_day_per_brp": cigre["eur_per_day_per_brp"],
        "eur_per_day_clearing": cigre["eur_per_day_clearing"],
    }
    details = _details(settings, runs, table, cost, seconds)
    paths = _write(directory, runs, table, cost)
    paths["summary_json"] = directory / "summary.json"
    paths["summary_json"].write_text(
        json.dumps(plain({"headline": headline, **details}), indent=2, allow_nan=False) + "\n",
        encoding="utf-8",
    )
    paths["summary"] = directory / "summary.md"
    paths["summary"].write_text(summary_markdown(headline, details, table), encoding="utf-8")
    return VdmaReproduction(paths, headline, seconds)


def by_s_and_mechanism(runs: pd.DataFrame) -> pd.DataFrame:
    """Per s and mechanism: runs, share feasible and converged, means of the indices (over the
    runs that converged), trades, matched and unsatisfied kWh."""
    rows = []
    for (s, mechanism), group in runs.groupby(["s", "mechanism"], sort=False):
        converged = group[group.converged]
        rows.append(
            {
                "s": s,
                "mechanism": mechanism,
                "runs": len(group),
                "feasible_share": float(group.feasible.mean()),
                "feasible_within_tolerance_share": float(group.feasible_within_tolerance.mean()),
                "converged_share": float(group.converged.mean()),
                **{c: float(converged[c].mean()) for c in INDEX_COLUMNS},
                "max_line_loading_pct": float(converged.max_line_loading_pct.mean()),
                "trades": float(group.trades.mean()),
                "matched_kwh": float(group.matched_kwh.mean()),
                "unsatisfied_kwh": float(group.unsatisfied_kwh.mean()),
                "clear_ms": 1000 * float(group.clear_seconds.mean()),
            }
        )
    return pd.DataFrame(rows).sort_values(["s", "mechanism"], kind="stable", ignore_index=True)


def overall_shares(runs: pd.DataFrame, column: str = "feasible") -> dict[str, float]:
    """Per mechanism, the share of every run (all s) whose solution is within the limits
    (``column="feasible_within_tolerance"``: within the limits widened by the tolerance)."""
    return {str(m): float(g[column].mean()) for m, g in runs.groupby("mechanism", sort=False)}


def violations_by_element(runs: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Per mechanism, how many solutions broke each limit ("line_overload line 2": 31)."""
    counts: dict[str, dict[str, int]] = {}
    for mechanism, group in runs.groupby("mechanism", sort=False):
        tally: dict[str, int] = {}
        for text in group.violations:
            for v in filter(None, str(text).split("; ")):
                tally[v] = tally.get(v, 0) + 1
        counts[str(mechanism)] = dict(sorted(tally.items(), key=lambda kv: -kv[1]))
    return counts


def compared_with_cda(runs: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per mechanism other than CDA, run by run against CDA on the same shouts: the share of
    runs whose matches differ, and the runs only it (or only CDA) keeps within the limits."""
    if "cda" not in set(runs.mechanism):
        return {}
    key = ["s", "run"]
    cda = runs[runs.mechanism == "cda"].set_index(key)
    out = {}
    for mechanism in runs.mechanism.unique():
        if mechanism == "cda":
            continue
        other = runs[runs.mechanism == mechanism].set_index(key).reindex(cda.index)
        differs = other.pairs.fillna("") != cda.pairs.fillna("")
        out[str(mechanism)] = {
            "runs": len(cda),
            "differs_share": float(differs.mean()),
            "feasible_only_here": int((other.feasible & ~cda.feasible).sum()),
            "feasible_only_with_cda": int((~other.feasible & cda.feasible).sum()),
        }
    return out


def nearest_offer_buses(pool: str, roles: str) -> dict[str, Any]:
    """NCDA's default distance, and for each bus with an asking device the bus of the nearest
    offering device under it (ties: the lowest bus)."""
    from peergrid.grid.distance import distance_matrix
    from peergrid.grid.feeders import load_feeder
    from peergrid.mechanisms.registry import mechanism_spec
    from peergrid.sim.ancillary.shouts import ShoutParameters, ShoutRoles, table_1_devices

    metric = next(str(p.default) for p in mechanism_spec("ncda").parameters if p.name == "distance")
    distances = distance_matrix(load_feeder(FEEDER), metric)  # type: ignore[arg-type]
    shout = ShoutParameters(spread=0.0, roles=ShoutRoles(roles))
    devices = table_1_devices()
    ask_buses = sorted({d.bus for d in devices if shout.side(d) is Side.BUY})
    offer_buses = sorted({d.bus for d in devices if shout.side(d) is Side.SELL})
    nearest = {
        str(a): min(offer_buses, key=lambda o: (distances.between(a, o), o)) for a in ask_buses
    }
    return {"metric": metric, "nearest": nearest}


def largest_overshoot(runs: pd.DataFrame) -> dict[str, float]:
    """Per mechanism, the highest line loading (%) among its solutions outside the limits that
    are within the tolerance (NaN when there are none)."""
    near = runs[~runs.feasible & runs.feasible_within_tolerance]
    return {
        str(m): float(near[near.mechanism == m].max_line_loading_pct.max())
        for m in runs.mechanism.unique()
    }


def _details(
    settings: VdmaSettings,
    runs: pd.DataFrame,
    table: pd.DataFrame,
    cost: CostStudy,
    seconds: dict[str, float],
) -> dict[str, Any]:
    study = settings.study
    cigre = cost.cigre.summary()
    return {
        "settings": {
            "runs_per_s": study.runs,
            "spreads": list(study.spreads),
            "seed": study.seed,
            "pool": study.pool,
            "roles": str(study.roles),
            "limits": asdict(study.limits),
            "mechanisms": list(study.mechanisms),
            "cost_rounds": settings.rounds,
            "shout_fraction": settings.fraction,
            "tree_sizes": list(settings.tree_sizes),
            "sessions_per_day": SESSIONS_PER_DAY,
            "eur_per_gas": EUR_PER_GAS,
        },
        "by_s_and_mechanism": table.to_dict(orient="records"),
        "violations": violations_by_element(runs),
        "constraint_satisfaction_within_tolerance": overall_shares(
            runs, "feasible_within_tolerance"
        ),
        "limit_tolerance": asdict(LIMIT_TOLERANCE),
        "largest_overshoot_pct": largest_overshoot(runs),
        "compared_with_cda": compared_with_cda(runs),
        "mean_offers": float(runs.offers.mean()),
        "nearest_offer_bus": nearest_offer_buses(study.pool, str(study.roles))
        if "ncda" in study.mechanisms
        else {},
        "base_case": asdict(NetworkCheck(study.limits).check([Outcome((), 0.0)], study.pool)[0]),
        "redraws": int(runs.drop_duplicates(["s", "run"]).redraws.sum()),
        "cost": {
            "cigre-mv-vdma": cigre,
            "trees": cost.growth().to_dict(orient="records"),
            "log_log_slopes": cost.slopes(),
            "total_eur_per_day": cigre["nodes"] * cigre["eur_per_day_per_brp"]
            + cigre["eur_per_day_clearing"],
        },
        "seconds": seconds,
    }


def _write(
    directory: Path, runs: pd.DataFrame, table: pd.DataFrame, cost: CostStudy
) -> dict[str, Path]:
    paths: dict[str, Path] = {}

    def csv(name: str, frame: pd.DataFrame) -> None:
        paths[name] = directory / f"{name}.csv"
        frame.to_csv(paths[name], index=False)

    csv("runs", runs)
    csv("by_s_and_mechanism", table)
    for s, rows in table.groupby("s", sort=True):
        csv(f"s_{s:g}", rows)
    csv("gas_placements", cost.cigre.placements)
    csv("gas_sessions", cost.cigre.per_session())
    csv("gas_growth", cost.growth())
    paths["network_figure"] = network_figure(table, directory / "network.png")
    paths["gas_figure"] = gas_figure(cost, directory / "gas_growth.png")
    return paths


def plain(value: Any) -> Any:
    """``value`` with numpy scalars as Python numbers and NaN as ``None`` (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
