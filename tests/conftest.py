"""Hypothesis's profiles: random examples on an engineer's machine, the same examples in CI.

Property tests draw new examples on every local run, which is how they find defects no one
wrote down; in CI (``CI=true``) the examples are derived from each test's source, so a change
passes or fails on its own code and not on the draw. An example that fails locally is kept in
Hypothesis's database and replayed first on the next run; the fix gets an explicit regression
test of its own.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI", "").lower() == "true":
    settings.load_profile("ci")
