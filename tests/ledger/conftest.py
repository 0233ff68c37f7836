"""Fixtures for the ledger tests.

The compile cache goes to a temporary folder for the whole session, so the tests never read or
write the user's cache.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from peergrid.ledger import EmbeddedChain
from peergrid.ledger.compile import CACHE_ENV_VAR

from .helpers import Community, make_community


@pytest.fixture(autouse=True, scope="session")
def _session_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV_VAR, str(tmp_path_factory.mktemp("contract-cache")))
        yield


@pytest.fixture
def community() -> Community:
    return make_community()


@pytest.fixture
def chain() -> EmbeddedChain:
    return EmbeddedChain()
