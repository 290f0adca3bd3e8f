"""Put ``tests/`` on ``sys.path`` so that ``from strategies import ...`` works however pytest is
invoked (whole suite, this directory, or one file)."""

import sys
from pathlib import Path

_TESTS_DIR = str(Path(__file__).resolve().parents[1])
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)
