"""Settings for the whole suite."""

from __future__ import annotations

import os

from hypothesis import settings

# The suite is deterministic: property tests explore the same examples on every run and machine
# (a failure found once is found again). Set HYPOTHESIS_PROFILE=explore to search afresh.
settings.register_profile("deterministic", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None, max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))
