"""The local anvil node: found under node_modules, started on 127.0.0.1, never left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from peergrid.ledger.chain.anvil import (
    ANVIL_DEV_ADDRESSES,
    ANVIL_DEV_KEYS,
    ANVIL_DEV_MNEMONIC,
    ANVIL_ENV_VAR,
    ANVIL_VERSION,
    AnvilError,
    AnvilProcess,
    anvil_version,
    find_anvil,
    is_anvil_dev_key,
    platform_package,
    repository_root,
    start_anvil,
)
from peergrid.ledger.chain.jsonrpc import JsonRpcClient

pytestmark = pytest.mark.slow

PR_SET_CHILD_SUBREAPER = 36


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _rpc(url: str, method: str, params: list[object] | None = None) -> object:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    request = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())["result"]


def _listeners(port: int) -> list[str]:
    """Local addresses (hex, as /proc/net/tcp* has them) listening on ``port``."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                found.append(address)
    return found


def test_the_npm_package_pins_anvil_and_brings_the_linux_binary() -> None:
    root = repository_root()
    manifest = json.loads((root / "package.json").read_text())
    assert manifest["dependencies"] == {"@foundry-rs/anvil": ANVIL_VERSION}
    lock = json.loads((root / "package-lock.json").read_text())["packages"]
    assert lock["node_modules/@foundry-rs/anvil"]["version"] == ANVIL_VERSION
    assert lock[f"node_modules/{platform_package()}"]["version"] == ANVIL_VERSION
    binary = find_anvil()
    assert binary == root / "node_modules" / platform_package() / "bin" / "anvil"
    assert anvil_version(binary) == ANVIL_VERSION


def test_a_missing_anvil_says_which_command_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ANVIL_ENV_VAR, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("peergrid.ledger.chain.anvil.repository_root", lambda: tmp_path)
    with pytest.raises(AnvilError) as info:
        find_anvil(search_from=tmp_path)
    assert info.value.call == "anvil"
    assert "run `npm ci`" in info.value.reason
    assert f"@foundry-rs/anvil {ANVIL_VERSION}" in info.value.reason
    monkeypatch.setenv(ANVIL_ENV_VAR, str(tmp_path / "nothing"))
    with pytest.raises(AnvilError, match="not an executable file"):
        find_anvil()


def test_start_listens_on_localhost_only_and_stop_leaves_nothing() -> None:
    with start_anvil() as node:
        assert node.running and node.port > 0
        assert node.url == f"http://127.0.0.1:{node.port}"
        assert _listeners(node.port) == ["0100007F"]  # 127.0.0.1, no other address
        assert int(str(_rpc(node.url, "eth_chainId")), 16) == node.chain_id
        pid = node.pid
        assert pid is not None
    assert not node.running and not _alive(pid)
    node.stop()  # a second stop is harmless
    assert not node.log_path.exists()  # its temporary folder is gone


def test_the_states_a_node_moves_to_disk_are_its_own_and_go_with_it() -> None:
    foundry_cache = Path.home() / ".foundry" / "anvil" / "tmp"
    before = set(foundry_cache.iterdir()) if foundry_cache.is_dir() else set()
    with start_anvil() as node:
        client = JsonRpcClient(node.url)
        sender = client.call("eth_accounts")[0]
        transfer = {"from": sender, "to": sender, "value": "0x1"}
        for _ in range(1_500):  # a block each: anvil moves all but its latest states to disk
            client.call("eth_sendTransaction", [transfer])
        client.close()
        assert node.cache_path.is_dir() and any(node.cache_path.rglob("*"))
    assert not node.cache_path.exists()
    after = set(foundry_cache.iterdir()) if foundry_cache.is_dir() else set()
    assert after == before  # nothing in anvil's default cache


def test_the_dev_keys_are_anvils_funded_accounts() -> None:
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    derived = [
        Account.from_mnemonic(ANVIL_DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}")
        for i in range(10)
    ]
    assert [a.address for a in derived] == list(ANVIL_DEV_ADDRESSES)
    assert ["0x" + bytes(a.key).hex() for a in derived] == list(ANVIL_DEV_KEYS)
    assert is_anvil_dev_key(ANVIL_DEV_KEYS[3].upper().replace("0X", ""))
    assert not is_anvil_dev_key("0x" + "11" * 32)
    with start_anvil() as node:
        assert _rpc(node.url, "eth_accounts") == [a.lower() for a in ANVIL_DEV_ADDRESSES]


def test_restart_keeps_the_port_and_with_a_state_file_the_chain(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with start_anvil(state=state) as node:
        port = node.port
        _rpc(node.url, "evm_mine")
        _rpc(node.url, "evm_mine")
        node.restart()  # SIGTERM: anvil writes the state file
        assert node.port == port and state.is_file()
        assert int(str(_rpc(node.url, "eth_blockNumber")), 16) == 2
        _rpc(node.url, "evm_mine")
        node.kill()  # SIGKILL: nothing written, back to the last dump
        node.start()
        assert int(str(_rpc(node.url, "eth_blockNumber")), 16) == 2


def test_a_failed_start_raises_with_the_log_and_leaves_nothing() -> None:
    with pytest.raises(AnvilError, match="exited with status"):
        start_anvil(hardfork="no-such-fork")


def test_a_port_in_use_is_refused() -> None:
    with start_anvil() as node, pytest.raises(AnvilError):
        start_anvil(port=node.port, startup_timeout=10)


def test_anvil_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    """Even a SIGKILLed parent leaves no node behind (Linux: PR_SET_PDEATHSIG)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux only")
    script = (
        "import sys, time\n"
        "from peergrid.ledger.chain.anvil import start_anvil\n"
        f"node = start_anvil(log_path={str(tmp_path / 'anvil.log')!r})\n"
        "print(node.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    # Adopt orphans while the test runs, so the node (orphaned when its parent dies) is reaped
    # here rather than left as a zombie for the machine's init.
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    try:
        parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        try:
            assert parent.stdout is not None
            pid = int(parent.stdout.readline())
            assert _alive(pid)
        finally:
            parent.send_signal(signal.SIGKILL)
            parent.wait()
            if parent.stdout is not None:
                parent.stdout.close()
        deadline = time.monotonic() + 10
        reaped = False
        while not reaped and time.monotonic() < deadline:
            try:
                reaped = os.waitpid(pid, os.WNOHANG)[0] == pid
            except ChildProcessError:  # not adopted by us: someone else reaps it
                reaped = not _alive(pid)
            time.sleep(0.05)
        assert reaped and not _alive(pid)
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def test_arguments_are_checked() -> None:
    with pytest.raises(AnvilError, match="port"):
        AnvilProcess(Path("anvil"), port=70000)
    with pytest.raises(AnvilError, match="block_time"):
        AnvilProcess(Path("anvil"), block_time=0)
