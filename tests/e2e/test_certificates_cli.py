"""``peergrid certificates``: a registry made, certificates issued from readings, transferred,
cancelled and shown across separate commands; each bad input is one line with exit status 2."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from peergrid.cli.main import app


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["certificates", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry whose slot 0 started a day ago, with two producers and a consumer, and slot 8's
    certificates issued (pv: 800 Wh, wind: 1500 Wh)."""
    folder = tmp_path_factory.mktemp("registry")
    path = folder / "gos.json"
    epoch = str(int(time.time()) - 86400)
    assert run("deploy", "-r", str(path), "--epoch", epoch)[0] == 0
    assert (folder / "gos.chain.jsonl").is_file()
    assert run("register", "pv", "--technology", "solar", "--bus", "12", "-r", str(path))[0] == 0
    assert run("register", "wind", "--technology", "wind", "--bus", "30", "-r", str(path))[0] == 0
    assert run("member", "school", "-r", str(path))[0] == 0
    readings = folder / "slot8.json"
    readings.write_text(json.dumps({"pv": 800, "wind": 1500}), encoding="utf-8")
    code, out, _ = run("issue", "--slot", "8", "--readings", str(readings), "-r", str(path))
    assert code == 0
    assert out.splitlines() == [
        f"issued 800 Wh to pv: id {8 << 32 | 1}",
        f"issued 1500 Wh to wind: id {8 << 32 | 2}",
    ]
    return path


def test_transfer_cancel_show(registry: Path) -> None:
    wind = str(8 << 32 | 2)
    r = ("-r", str(registry))
    assert (
        run("transfer", "--from", "wind", "--to", "school", "--id", wind, "--wh", "1000", *r)[0]
        == 0
    )
    code, out, _ = run(
        "cancel", "--holder", "school", "--id", wind, "--wh", "600", "--for", "school",
        "--period", "8:11", *r,
    )  # fmt: skip
    assert code == 0 and "cancelled 600 Wh" in out
    consumption = registry.parent / "use.json"
    consumption.write_text(json.dumps({"8": 500, "9": 300, "12": 100}), encoding="utf-8")
    code, out, _ = run("show", "--consumer", "school", "--consumption", str(consumption), *r)
    assert code == 0
    shown = json.loads(out)
    assert (shown["issued_wh"], shown["cancelled_wh"], shown["expired_wh"]) == (2300, 600, 0)
    by_producer = {c["producer"]: c for c in shown["certificates"]}
    assert by_producer["wind"]["balances_wh"] == {"wind": 500, "school": 400}
    assert by_producer["wind"]["technology"] == "wind" and by_producer["wind"]["bus"] == 30
    assert by_producer["pv"]["held_wh"] == 800
    # hour 2 (slots 8-11): 800 consumed, 600 cancelled; hour 3: 100 consumed, none
    assert shown["matching"] == {
        "consumer": "school",
        "consumed_wh": 900,
        "covered_wh": 600,
        "hourly_score": pytest.approx(600 / 900),
    }
    # the cancelled ones cannot move: school holds 400 and cancelled 600
    code, _, stderr = run(
        "transfer", "--from", "school", "--to", "pv", "--id", wind, "--wh", "500", *r
    )
    assert code == 2
    assert (
        stderr.strip()
        == "error: Certificates.transfer: not enough certificates: some are cancelled"
    )


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("issue --slot 8 --readings READINGS", "reading already posted"),
        ("issue --slot -1 --readings READINGS", "--slot: must be >= 0"),
        ("issue --slot 9 --readings BAD", "Wh must be a whole number"),
        ("issue --slot 9 --readings NOBODY", "no account named 'nobody'"),
        ("issue --slot 9 --readings SCHOOL", "school has no registered device"),
        ("issue --slot 9 --readings missing.json", "--readings: no file"),
        ("issue --slot 10000 --readings READINGS", "slot has not ended"),
        ("transfer --from pv --to school --id x1 --wh 1", "not a certificate id"),
        ("transfer --from pv --to school --id 5 --wh 0", "--wh: must be positive"),
        ("transfer --from pv --to nobody --id 5 --wh 1", "no account named 'nobody'"),
        ("transfer --from pv --to school --id 5 --wh 1", "not enough certificates"),
        ("cancel --holder pv --id 5 --wh 1 --for school --period 9:8", "--period"),
        ("register BADNAME --technology solar --bus 1", "account name 'bad name'"),
        ("register coal --technology coal --bus 1", "unknown technology 'coal'"),
        ("register pv --technology solar --bus 1", "an account named 'pv' exists"),
        ("show --consumer school", "--consumer and --consumption go together"),
        ("deploy --slot-seconds 0 --overwrite", "--slot-seconds: must be in"),
    ],
)
def test_bad_input_is_one_line_exit_2(registry: Path, command: str, message: str) -> None:
    folder = registry.parent
    files = {
        "READINGS": folder / "slot8.json",
        "BAD": folder / "bad.json",
        "NOBODY": folder / "nobody.json",
        "SCHOOL": folder / "school.json",
    }
    files["BAD"].write_text(json.dumps({"pv": 1.5}), encoding="utf-8")
    files["NOBODY"].write_text(json.dumps({"nobody": 1}), encoding="utf-8")
    files["SCHOOL"].write_text(json.dumps({"school": 1}), encoding="utf-8")
    files["BADNAME"] = Path("bad name")
    argv = [str(files.get(a, folder / a if a.endswith(".json") else a)) for a in command.split()]
    before = (folder / "gos.chain.jsonl").read_bytes()
    code, _, stderr = run(*argv, "-r", str(registry))
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], stderr
    after = (folder / "gos.chain.jsonl").read_bytes()
    # nothing but the clock moved on the chain
    new = [json.loads(line)["kind"] for line in after[len(before) :].decode().splitlines()]
    assert set(new) <= {"clock"}


def test_a_missing_registry_is_one_line(tmp_path: Path) -> None:
    code, _, stderr = run("show", "-r", str(tmp_path / "none.json"))
    assert code == 2 and "run `peergrid certificates deploy` first" in stderr
    assert len(stderr.strip().splitlines()) == 1
    code, _, stderr = run("deploy", "-r", str(tmp_path / "no" / "such" / "r.json"))
    assert code == 2 and "no folder" in stderr
