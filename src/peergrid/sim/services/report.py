"""The report's section on the platform's services (``report.html`` of ``peergrid run``)."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any


def block_html(summary: Mapping[str, Any]) -> str:
    """Certificates issued and cancelled, OTC volumes, flexibility bought and the congestion
    avoided, dividends paid (empty when the run had no services)."""
    if summary.get("certificates_issued") is None:
        return ""
    cur = html.escape(str(summary["currency"]))
    issued, cancelled = summary["certificates_issued"], summary["certificates_cancelled"]
    before = summary["services_congested_slots_before"]
    after = summary["services_congested_slots_after"]
    rows = [
        (
            "Guarantees of origin",
            f"{issued:,} certificates issued ({issued / 1000:,.1f} kWh of metered PV from "
            f"{summary['services_certificate_producers']} producers), {cancelled:,} cancelled "
            f"for the producers' buyers ({cancelled / max(issued, 1):.1%})",
        ),
        (
            "OTC contracts",
            f"{summary['services_otc_contracts']} signed "
            f"({summary['services_otc_refused']} refused by the grid check), "
            f"{summary['otc_kwh']:,.1f} kWh settled, {summary['services_otc_paid']:,.2f} {cur} "
            "paid by the buyers to the sellers",
        ),
        (
            "Flexibility",
            f"{summary['services_flexibility_needs']} needs, "
            f"{summary['services_flexibility_bought_kwh']:,.2f} kWh bought, "
            f"{summary['flexibility_kwh']:,.2f} kWh delivered; the DSO paid "
            f"{summary['services_flexibility_cost']:,.2f} {cur} and took "
            f"{summary['services_flexibility_penalties']:,.2f} {cur} of penalties",
        ),
        (
            "Congestion avoided",
            f"congested slots {before} → {after} ({before - after} avoided)",
        ),
        (
            "Community battery",
            f"{summary['services_battery_raised']:,.2f} {cur} raised; revenue "
            f"{summary['services_battery_revenue']:,.4f} {cur}, dividends paid "
            f"{summary['dividends_paid']:,.4f} {cur}",
        ),
        (
            "Ledger",
            f"{summary['services_transactions']:,} transactions, "
            f"{summary['services_gas_used'] / 1e6:,.1f} M gas, "
            f"{summary['services_ledger_s']:,.1f} s; money conserved: "
            f"{'yes' if summary['services_money_conserved'] else 'NO'}",
        ),
    ]
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return (
        "<h2>Platform services</h2><p>Beside the energy market, on an embedded chain of their "
        "own: OTC contracts netted off the meters before the pool clears and settled after, "
        "certificates issued from each slot's metered PV and cancelled for the buyers, each "
        "day's congestions screened and bought on the flexibility market (congested slots "
        "counted on active power, before and with the flexibility delivered), the community "
        "battery's revenue distributed and claimed.</p>"
        f"<table>{body}</table>"
    )
