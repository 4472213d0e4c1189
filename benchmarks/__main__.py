"""``python -m benchmarks``: see :mod:`benchmarks.harness` (``--help`` for options)."""

import sys

from .harness import main

if __name__ == "__main__":
    sys.exit(main())
