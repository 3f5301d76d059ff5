"""Shared fixtures: composing configs like the CLI does.

Code shared by several test modules lives in the package ``tests/helpers/``, imported as
``helpers.<module>``: pytest puts ``tests/`` (the folder of this rootless conftest) on
``sys.path``. No test module imports another.
"""

from __future__ import annotations

import pytest

from giantstep.config import resolve
from giantstep.schema import compose


@pytest.fixture
def settings():
    """``settings(*overrides)`` -> checked Settings, composed as ``giantstep <overrides>``."""
    return lambda *overrides: resolve(compose(overrides))
