"""``python -m benchmarks``: see :mod:`benchmarks.harness` (``--help`` for options)."""

import sys

from .harness import main

sys.exit(main())
