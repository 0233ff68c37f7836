"""A local anvil node for development and tests: find the binary, start it, stop it.

anvil comes from the npm package ``@foundry-rs/anvil`` (version :data:`ANVIL_VERSION`, pinned in
the repository's ``package.json`` and ``package-lock.json``); ``npm ci`` in the repository root
installs it, with the platform's binary in the optional dependency
``@foundry-rs/anvil-<os>-<arch>`` under ``bin/anvil`` (for this machine,
``node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil``). :func:`find_anvil` looks for it.

:func:`start_anvil` runs it on 127.0.0.1 only, waits until it answers JSON-RPC and returns an
:class:`AnvilProcess`, a context manager whose :meth:`~AnvilProcess.stop` ends the node and every
process in its process group. Nothing is left behind: the node runs in its own process group,
is stopped when the context exits, by an ``atexit`` hook if the program forgets, and (on Linux)
by the kernel when the thread that started it dies (``PR_SET_PDEATHSIG``; so start it from a
thread that outlives it, as the main thread does).

State across restarts: anvil keeps its chain in memory. With ``state=PATH`` it loads the file at
start (if it exists) and writes it when it exits *gracefully* (SIGTERM or SIGINT, which
:meth:`AnvilProcess.stop` sends): blocks, receipts, balances and nonces survive, the pool of
pending transactions does not. :meth:`AnvilProcess.kill` (SIGKILL) writes nothing, so a restart
after it comes back at the last dump (``state_interval`` seconds makes anvil dump periodically).

Old states on disk: a node that keeps its history (no ``--prune-history``) writes the states
it no longer holds in memory to disk, by default under ``~/.foundry/anvil/tmp``, and leaves them
there when it stops (1 337 files after 1 500 blocks; tens of GB after a few hundred thousand).
Each node this module starts is given a cache folder of its own (``--cache-path``), beside its
log, and :meth:`AnvilProcess.close` deletes it.

Dev accounts: anvil funds ten accounts derived from a public mnemonic
(:data:`ANVIL_DEV_MNEMONIC`); their private keys (:data:`ANVIL_DEV_KEYS`) are published by
Foundry and known to everyone, so they are fit for a dev node only.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from peergrid.core.errors import LedgerError

ANVIL_VERSION = "1.7.1"
"""The anvil release ``package.json`` pins."""

ANVIL_NPM_PACKAGE = "@foundry-rs/anvil"
ANVIL_ENV_VAR = "PEERGRID_ANVIL"
"""If set, the path of the anvil binary to use instead of the one under ``node_modules``."""

LOCALHOST = "127.0.0.1"
ANVIL_CHAIN_ID = 31337
"""anvil's default chain id."""

ANVIL_DEV_MNEMONIC = "test test test test test test test test test test test junk"
"""The public mnemonic anvil derives its dev accounts from (path ``m/44'/60'/0'/0/i``)."""

ANVIL_DEV_KEYS: tuple[str, ...] = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
)
"""Private keys of anvil's ten dev accounts (public knowledge: never use them on a real network)."""

ANVIL_DEV_ADDRESSES: tuple[str, ...] = (
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
    "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
    "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
    "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
    "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
    "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
)
"""Checksum addresses of :data:`ANVIL_DEV_KEYS`, in the same order."""

_PLATFORM_PACKAGES = {
    ("linux", "x86_64"): "anvil-linux-amd64",
    ("linux", "amd64"): "anvil-linux-amd64",
    ("linux", "aarch64"): "anvil-linux-arm64",
    ("linux", "arm64"): "anvil-linux-arm64",
    ("darwin", "x86_64"): "anvil-darwin-amd64",
    ("darwin", "arm64"): "anvil-darwin-arm64",
}
_LISTENING = re.compile(r"Listening on ([0-9.]+):(\d+)")
_PR_SET_PDEATHSIG = 1


class AnvilError(LedgerError):
    """anvil cannot be found, started or stopped."""

    def __init__(self, reason: str):
        super().__init__("anvil", reason)


def repository_root() -> Path:
    """The checkout this module runs from (``src/peergrid/ledger/chain/anvil.py`` → four up)."""
    return Path(__file__).resolve().parents[4]


def platform_package() -> str:
    """The npm package holding this platform's binary, e.g. ``@foundry-rs/anvil-linux-amd64``."""
    key = (sys.platform, platform.machine().lower())
    name = _PLATFORM_PACKAGES.get(key)
    if name is None:
        raise AnvilError(f"no anvil npm binary for platform {key[0]}/{key[1]}")
    return f"@foundry-rs/{name}"


def find_anvil(search_from: Path | None = None) -> Path:
    """The anvil binary: ``$PEERGRID_ANVIL``, else ``node_modules`` (see the module docstring).

    ``node_modules/<platform package>/bin/anvil`` is looked for in ``search_from`` (default: the
    working directory) and its parents, then in the checkout this module belongs to. An
    ``anvil`` on ``PATH`` (a foundryup install) is the last resort. Raises :class:`AnvilError`
    naming the command to run when there is none.
    """
    override = os.environ.get(ANVIL_ENV_VAR)
    if override:
        path = Path(override).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise AnvilError(f"${ANVIL_ENV_VAR} is {override!r}, which is not an executable file")
        return path
    package = platform_package()
    start = (search_from or Path.cwd()).resolve()
    roots = [start, *start.parents, repository_root()]
    for root in roots:
        candidate = root / "node_modules" / package / "bin" / "anvil"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    on_path = shutil.which("anvil")
    if on_path:
        return Path(on_path)
    raise AnvilError(
        f"anvil is not installed: run `npm ci` in {repository_root()} (it installs "
        f"{ANVIL_NPM_PACKAGE} {ANVIL_VERSION} from package.json, whose binary is "
        f"node_modules/{package}/bin/anvil), or set ${ANVIL_ENV_VAR} to an anvil binary"
    )


def anvil_version(binary: Path | None = None) -> str:
    """The version anvil reports, e.g. ``"1.7.1"``."""
    path = binary or find_anvil()
    try:
        out = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise AnvilError(f"`{path} --version` failed: {exc}") from exc
    match = re.search(r"Version:\s*(\S+)", out) or re.search(r"anvil\s+(\d+\.\d+\.\d+)", out)
    if match is None:
        raise AnvilError(f"unrecognised `anvil --version` output: {out.strip()!r}")
    return match.group(1)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGTERM this process when the thread that started it exits."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


_running: set[AnvilProcess] = set()
"""Nodes started and not yet stopped: the ``atexit`` hook stops them."""


@atexit.register
def _stop_all() -> None:
    for node in list(_running):
        node.close()


class AnvilProcess:
    """A running anvil node on 127.0.0.1; stop it with :meth:`stop` or by leaving ``with``."""

    def __init__(
        self,
        binary: Path,
        *,
        port: int = 0,
        block_time: float | None = None,
        state: Path | None = None,
        state_interval: float | None = None,
        chain_id: int | None = None,
        accounts: int = 10,
        hardfork: str | None = None,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 30.0,
        die_with_parent: bool = True,
        log_path: Path | None = None,
        quiet: bool = False,
    ) -> None:
        if not 0 <= port <= 65535:
            raise AnvilError(f"port must be in 0..65535, got {port}")
        if quiet and port == 0:
            raise AnvilError("a quiet anvil logs no port: give one")
        if block_time is not None and block_time <= 0:
            raise AnvilError(f"block_time must be positive seconds, got {block_time}")
        self.binary = binary
        self.port = port
        self.block_time = block_time
        self.state = Path(state) if state is not None else None
        self.state_interval = state_interval
        self.chain_id = chain_id if chain_id is not None else ANVIL_CHAIN_ID
        self.accounts = accounts
        self.hardfork = hardfork
        self.extra_args = tuple(extra_args)
        self.startup_timeout = startup_timeout
        self.die_with_parent = die_with_parent and sys.platform.startswith("linux")
        self._own_dir: Path | None = None
        if log_path is None:
            self._own_dir = Path(tempfile.mkdtemp(prefix="peergrid-anvil-"))
            log_path = self._own_dir / "anvil.log"
        self.log_path = Path(log_path)
        # The states the node moves to disk (module docstring): a folder of its own, removed
        # by `close`; made by the node when it first needs it.
        self.cache_path = self.log_path.parent / f"anvil-states-{uuid.uuid4().hex[:12]}"
        self.quiet = quiet
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    # --- life cycle --------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return LOCALHOST

    @property
    def url(self) -> str:
        """The JSON-RPC endpoint, ``http://127.0.0.1:<port>``."""
        return f"http://{LOCALHOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        """The command line :meth:`start` runs."""
        cmd = [str(self.binary), "--host", LOCALHOST, "--port", str(self.port)]
        cmd += ["--accounts", str(self.accounts), "--chain-id", str(self.chain_id)]
        if self.block_time is not None:
            cmd += ["--block-time", f"{self.block_time:g}"]
        if self.state is not None:
            cmd += ["--state", str(self.state)]
            if self.state_interval is not None:
                cmd += ["--state-interval", f"{self.state_interval:g}"]
        if self.hardfork is not None:
            cmd += ["--hardfork", self.hardfork]
        if self.quiet:
            cmd.append("--quiet")
        cmd += ["--cache-path", str(self.cache_path)]
        return cmd + list(self.extra_args)

    def start(self) -> AnvilProcess:
        """Start the node (again, on the same port, after :meth:`stop` or :meth:`kill`)."""
        with self._lock:
            if self.running:
                raise AnvilError(f"anvil is already running at {self.url} (pid {self.pid})")
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            with self.log_path.open("ab") as log:
                try:
                    self._process = subprocess.Popen(
                        self.command(),
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,  # its own process group, killed as a whole
                        preexec_fn=_die_with_parent if self.die_with_parent else None,
                    )
                except OSError as exc:
                    raise AnvilError(f"cannot run {self.binary}: {exc}") from exc
            _running.add(self)
        try:
            self._await_ready(offset)
        except BaseException:
            self.stop(timeout=5.0)
            raise
        return self

    def _await_ready(self, offset: int) -> None:
        deadline = time.monotonic() + self.startup_timeout
        delay = 0.01
        listening = self.quiet  # a quiet node logs nothing: its port was given, ask it
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                code = None if self._process is None else self._process.returncode
                raise AnvilError(
                    f"anvil exited with status {code} while starting: {self._log_tail(offset)}"
                )
            if not listening:
                match = _LISTENING.search(self._log_since(offset))
                if match is not None:
                    self.port = int(match.group(2))
                    listening = True
            if listening and self._answers():
                return
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)
        raise AnvilError(
            f"anvil did not answer within {self.startup_timeout:g} s: {self._log_tail(offset)}"
        )

    def _answers(self) -> bool:
        return self._call("eth_chainId", []) is not None

    def _call(self, method: str, params: list[object]) -> dict[str, object] | None:
        """One JSON-RPC call to the node; its answer, or ``None`` if it did not answer."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        request = urllib.request.Request(
            self.url, data=body.encode(), headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=2.0) as response:
                answer = json.loads(response.read())
        except (OSError, ValueError):
            return None
        return answer if isinstance(answer, dict) and "result" in answer else None

    def _log_since(self, offset: int) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def _log_tail(self, offset: int) -> str:
        lines = [line for line in self._log_since(offset).splitlines() if line.strip()]
        return " | ".join(lines[-5:]) or "(no output)"

    def stop(self, timeout: float = 10.0) -> int | None:
        """End the node gracefully (SIGTERM: it dumps ``state``), SIGKILL after ``timeout`` s.

        Signals go to the node's whole process group. Returns its exit status (``None`` if it
        was not running). Safe to call twice.
        """
        if self.state is not None:
            self._drain()
        return self._end(signal.SIGTERM, timeout)

    def _drain(self) -> None:
        """Stop mining before the dump, so that the state file is one consistent block.

        anvil writes its state file in parts (the blocks and receipts, then the accounts); a
        block mined between the parts leaves the accounts ahead of the receipts: a sender's
        nonce counted without the transaction that used it, which no client can tell from a
        stranger's transaction. With automine off, a transaction that arrives now waits in the
        pool, which the dump does not keep: the client sends it again after the restart.
        """
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                return
        if self._call("evm_setAutomine", [False]) is not None:
            time.sleep(0.05)  # a block being mined when the switch came finishes meanwhile

    def kill(self) -> int | None:
        """End the node at once (SIGKILL): it writes no state; see the module docstring."""
        return self._end(signal.SIGKILL, 5.0)

    def _end(self, sig: signal.Signals, timeout: float) -> int | None:
        with self._lock:
            process = self._process
            if process is None:
                return None
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, sig)
                try:
                    process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10.0)
            # Anything the node started in its group goes too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            _running.discard(self)
            return process.returncode

    def restart(self, *, graceful: bool = True) -> AnvilProcess:
        """Stop (SIGTERM, or SIGKILL if not ``graceful``) and start again on the same port."""
        if graceful:
            self.stop()
        else:
            self.kill()
        return self.start()

    def wait(self) -> int:
        """Block until the node exits (for ``peergrid chain up``); its exit status."""
        if self._process is None:
            raise AnvilError("anvil was never started")
        return self._process.wait()

    def close(self) -> None:
        """:meth:`stop`, then delete the node's cache of old states and the temporary folder
        holding the log (if this made it)."""
        self.stop()
        shutil.rmtree(self.cache_path, ignore_errors=True)
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)
            self._own_dir = None

    def __enter__(self) -> AnvilProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        status = "running" if self.running else "stopped"
        return f"AnvilProcess({self.url}, pid={self.pid}, {status})"


def start_anvil(
    port: int = 0,
    *,
    block_time: float | None = None,
    state: Path | str | None = None,
    state_interval: float | None = None,
    chain_id: int | None = None,
    accounts: int = 10,
    hardfork: str | None = None,
    extra_args: Sequence[str] = (),
    binary: Path | None = None,
    startup_timeout: float = 30.0,
    die_with_parent: bool = True,
    log_path: Path | None = None,
    quiet: bool = False,
) -> AnvilProcess:
    """Start anvil on 127.0.0.1 and wait until it answers JSON-RPC.

    ``port=0`` lets anvil pick a free port (read back from its log: :attr:`AnvilProcess.port`).
    ``block_time`` switches from mining each transaction at once to interval mining.
    ``state`` loads the file if it exists and dumps to it on a graceful stop. The rest are
    anvil's own options; ``hardfork=None`` keeps anvil's default (the latest it knows).
    ``quiet`` (with a ``port``) logs nothing: a node that runs millions of transactions would
    otherwise write a line or two for each.
    """
    node = AnvilProcess(
        binary or find_anvil(),
        port=port,
        block_time=block_time,
        state=Path(state) if state is not None else None,
        state_interval=state_interval,
        chain_id=chain_id,
        accounts=accounts,
        hardfork=hardfork,
        extra_args=extra_args,
        startup_timeout=startup_timeout,
        die_with_parent=die_with_parent,
        log_path=log_path,
        quiet=quiet,
    )
    try:
        return node.start()
    except BaseException:
        node.close()
        raise


def is_anvil_dev_key(private_key: str) -> bool:
    """Whether ``private_key`` is one of anvil's public dev keys."""
    normal = private_key.lower()
    if not normal.startswith("0x"):
        normal = "0x" + normal
    return normal in ANVIL_DEV_KEYS


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a node that must be told its port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOCALHOST, 0))
        return int(probe.getsockname()[1])
