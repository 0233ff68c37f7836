"""``peergrid certificates``: guarantees of origin for metered renewable energy (S10) on a
registry kept on disk (the embedded chain journaled beside the registry file).

``deploy`` makes the registry; ``register`` a producer's device, ``member`` any other account;
``issue`` posts a slot's meter readings and issues their certificates; ``transfer`` and
``cancel`` move and redeem them; ``show`` prints every certificate, and a consumer's hourly
matching score. One certificate is one Wh.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from peergrid.cli.common import Command, Overwrite, group
from peergrid.cli.console import err
from peergrid.core.errors import PeergridError

certificates_app = group(
    "Guarantees of origin (S10): issue certificates from meter readings, transfer, cancel for "
    "a consumer, show."
)

Registry = Annotated[
    Path,
    typer.Option("--registry", "-r", metavar="<path>", help="the registry file (deploy makes it)"),
]
DEFAULT_REGISTRY = Path("certificates.json")


def _id(value: str) -> int:
    try:
        number = int(value, 0)
    except ValueError:
        raise PeergridError(f"--id: not a certificate id: {value!r}") from None
    if number <= 0 or number >= 2**256:
        raise PeergridError(f"--id: out of range: {value!r}")
    return number


def _positive(value: int, option: str) -> int:
    if value <= 0:
        raise PeergridError(f"{option}: must be positive, got {value}")
    return value


def _json_object(path: Path, option: str) -> Mapping[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PeergridError(f"{option}: no file {path}") from None
    except (OSError, ValueError) as exc:
        raise PeergridError(f"{option}: {path}: {exc}") from exc
    if not isinstance(document, Mapping):
        raise PeergridError(f"{option}: {path}: expected a JSON object")
    return document


def _wh(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PeergridError(f"{where}: Wh must be a whole number, got {value!r}")
    if not 0 <= value <= 2**32 - 1:
        raise PeergridError(f"{where}: Wh must be in 0..4294967295, got {value}")
    return value


def _period(value: str) -> tuple[int, int]:
    first, sep, last = value.partition(":")
    try:
        period = (int(first), int(last if sep else first))
    except ValueError:
        raise PeergridError(f"--period: expected FIRST:LAST slots, got {value!r}") from None
    if period[0] < 0 or period[1] < period[0]:
        raise PeergridError(f"--period: FIRST:LAST with 0 <= FIRST <= LAST, got {value!r}")
    return period


def _midnight_utc() -> int:
    today = dt.datetime.now(dt.UTC).date()
    return int(dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC).timestamp())


@certificates_app.command("deploy", cls=Command)
def deploy_command(
    registry: Registry = DEFAULT_REGISTRY,
    slot_seconds: Annotated[
        int, typer.Option("--slot-seconds", metavar="<s>", help="length of a production slot")
    ] = 900,
    lifetime_days: Annotated[
        int,
        typer.Option(
            "--lifetime-days",
            metavar="<days>",
            help="a certificate expires this long after its slot",
        ),
    ] = 365,
    epoch: Annotated[
        int | None,
        typer.Option(
            "--epoch", metavar="<unix s>", help="when slot 0 starts (default: today 00:00 UTC)"
        ),
    ] = None,
    overwrite: Annotated[bool, Overwrite] = False,
) -> None:
    """Make a registry: its chain, the issuer and meter accounts, the Certificates contract."""
    from peergrid.ledger.markets.certificate_file import create_registry

    if not 1 <= slot_seconds <= 2**32:
        raise PeergridError(f"--slot-seconds: must be in 1..{2**32}, got {slot_seconds}")
    if not 1 <= lifetime_days <= 100 * 365:
        raise PeergridError(f"--lifetime-days: must be in 1..36500, got {lifetime_days}")
    start = _midnight_utc() if epoch is None else epoch
    if not 0 <= start <= 2**64:
        raise PeergridError(f"--epoch: must be unix seconds >= 0, got {start}")
    opened = create_registry(
        registry,
        slot_seconds=slot_seconds,
        lifetime_seconds=lifetime_days * 86400,
        epoch=start,
        overwrite=overwrite,
    )
    try:
        err.print(f"Certificates: {opened.registry.address}", highlight=False, markup=False)
        err.print(f"wrote {registry}", highlight=False, markup=False)
    finally:
        opened.chain.close()


@certificates_app.command("register", cls=Command)
def register_command(
    name: Annotated[str, typer.Argument(metavar="NAME", help="the producer's account name")],
    technology: Annotated[
        str,
        typer.Option("--technology", metavar="<name>", help="solar, wind, hydro, biomass, …"),
    ],
    bus: Annotated[int, typer.Option("--bus", metavar="<bus>", help="the device's feeder bus")],
    registry: Registry = DEFAULT_REGISTRY,
) -> None:
    """Add a producer's account and register its device (issuer)."""
    from peergrid.ledger.markets.certificate_file import check_name, open_registry
    from peergrid.ledger.markets.certificates import technology_code

    check_name(name)
    code = technology_code(technology)
    if not 0 <= bus < 2**256:
        raise PeergridError(f"--bus: must be a bus number >= 0, got {bus}")
    with open_registry(registry) as opened:
        address = opened.add_account(name)
        opened.registry.register_device(address, code, bus)
    err.print(f"registered {name} ({technology}, bus {bus}): {address}", highlight=False)


@certificates_app.command("member", cls=Command)
def member_command(
    name: Annotated[str, typer.Argument(metavar="NAME", help="the account's name")],
    registry: Registry = DEFAULT_REGISTRY,
) -> None:
    """Add an account that holds and cancels certificates (a consumer, a trader)."""
    from peergrid.ledger.markets.certificate_file import open_registry

    with open_registry(registry) as opened:
        address = opened.add_account(name)
    err.print(f"added {name}: {address}", highlight=False)


@certificates_app.command("issue", cls=Command)
def issue_command(
    slot: Annotated[int, typer.Option("--slot", metavar="<slot>", help="the production slot")],
    readings: Annotated[
        Path,
        typer.Option(
            "--readings", metavar="<path>", help='JSON {"producer name": Wh produced in the slot}'
        ),
    ],
    registry: Registry = DEFAULT_REGISTRY,
) -> None:
    """Post a slot's production readings (meter) and issue their certificates (issuer)."""
    from peergrid.ledger.markets.certificate_file import open_registry
    from peergrid.platform.certificates import issue_from_meters

    if slot < 0:
        raise PeergridError(f"--slot: must be >= 0, got {slot}")
    document = _json_object(readings, "--readings")
    if not document:
        raise PeergridError(f"--readings: {readings}: no readings")
    with open_registry(registry) as opened:
        production = {
            opened.address(name): _wh(wh, f"--readings: {readings}: {name}")
            for name, wh in document.items()
        }
        for name, address in zip(document, production, strict=True):
            if opened.registry.device_of(address) is None:
                raise PeergridError(f"--readings: {readings}: {name} has no registered device")
        receipts = issue_from_meters(opened.registry, opened.meter, slot, production)
        issued = [
            (opened.name_of(str(e.args["producer"])), int(e.args["id"]), int(e.args["wh"]))
            for receipt in receipts
            for e in receipt.events_named("Issued")
        ]
    for name, certificate, wh in issued:
        typer.echo(f"issued {wh} Wh to {name}: id {certificate}")


@certificates_app.command("transfer", cls=Command)
def transfer_command(
    sender: Annotated[str, typer.Option("--from", metavar="<name>", help="the holder")],
    receiver: Annotated[str, typer.Option("--to", metavar="<name>", help="the receiver")],
    certificate: Annotated[str, typer.Option("--id", metavar="<id>", help="certificate id")],
    wh: Annotated[int, typer.Option("--wh", metavar="<Wh>", help="how many certificates")],
    registry: Registry = DEFAULT_REGISTRY,
) -> None:
    """Transfer certificates from one account to another."""
    from peergrid.ledger.markets.certificate_file import open_registry

    number, amount = _id(certificate), _positive(wh, "--wh")
    with open_registry(registry) as opened:
        opened.registry.transfer(opened.address(sender), opened.address(receiver), number, amount)
    typer.echo(f"transferred {amount} Wh of {number} from {sender} to {receiver}")


@certificates_app.command("cancel", cls=Command)
def cancel_command(
    holder: Annotated[str, typer.Option("--holder", metavar="<name>", help="who cancels")],
    certificate: Annotated[str, typer.Option("--id", metavar="<id>", help="certificate id")],
    wh: Annotated[int, typer.Option("--wh", metavar="<Wh>", help="how many certificates")],
    beneficiary: Annotated[
        str, typer.Option("--for", metavar="<name>", help="the consumer they are cancelled for")
    ],
    period: Annotated[
        str,
        typer.Option("--period", metavar="<first:last>", help="the consumption slots they cover"),
    ],
    registry: Registry = DEFAULT_REGISTRY,
) -> None:
    """Cancel (redeem) certificates for a named consumer and consumption period."""
    from peergrid.ledger.markets.certificate_file import open_registry

    number, amount, slots = _id(certificate), _positive(wh, "--wh"), _period(period)
    with open_registry(registry) as opened:
        opened.registry.cancel(
            opened.address(holder), number, amount, opened.address(beneficiary), slots
        )
    typer.echo(f"cancelled {amount} Wh of {number} for {beneficiary}, slots {slots[0]}-{slots[1]}")


@certificates_app.command("show", cls=Command)
def show_command(
    registry: Registry = DEFAULT_REGISTRY,
    consumer: Annotated[
        str | None,
        typer.Option("--consumer", metavar="<name>", help="report this consumer's matching"),
    ] = None,
    consumption: Annotated[
        Path | None,
        typer.Option(
            "--consumption", metavar="<path>", help='JSON {"slot": Wh consumed} of --consumer'
        ),
    ] = None,
) -> None:
    """Print the registry as JSON: totals, each certificate with its balances, and, with
    --consumer and --consumption, the consumer's hourly matching score."""
    from peergrid.ledger.markets.certificate_file import open_registry
    from peergrid.ledger.markets.certificates import technology_name
    from peergrid.platform.certificates import hourly_matching

    if (consumer is None) != (consumption is None):
        raise PeergridError("--consumer and --consumption go together")
    used: dict[int, int] = {}
    if consumption is not None:
        for key, value in _json_object(consumption, "--consumption").items():
            try:
                slot = int(key)
            except ValueError:
                raise PeergridError(f"--consumption: {consumption}: slot {key!r}") from None
            if slot < 0:
                raise PeergridError(f"--consumption: {consumption}: slot {key!r}")
            used[slot] = _wh(value, f"--consumption: {consumption}: slot {key}")
    with open_registry(registry) as opened:
        reg = opened.registry
        issued, cancelled, expired = reg.totals()
        certificates = []
        for number in opened.ids():
            state = reg.state_of(number)
            balances = {
                name: held
                for name, address in opened.accounts.items()
                if (held := reg.balance_of(address, number))
            }
            certificates.append(
                {
                    "id": number,
                    "producer": opened.name_of(state.producer),
                    "technology": technology_name(state.technology),
                    "bus": state.bus,
                    "slot": state.slot,
                    "expires_at": state.expires_at,
                    "issued_wh": state.issued,
                    "held_wh": state.held,
                    "cancelled_wh": state.cancelled,
                    "expired_wh": state.expired,
                    "balances_wh": balances,
                }
            )
        report: dict[str, Any] = {
            "unit": "Wh",
            "issued_wh": issued,
            "cancelled_wh": cancelled,
            "expired_wh": expired,
            "certificates": certificates,
        }
        if consumer is not None:
            matching = hourly_matching(reg, opened.address(consumer), used)
            report["matching"] = {
                "consumer": consumer,
                "consumed_wh": matching.total_consumed_wh,
                "covered_wh": matching.covered_wh,
                "hourly_score": matching.score,
            }
    typer.echo(json.dumps(report, indent=2))
