"""``python -m tinynlp`` is the ``tinynlp`` command."""

import sys

from .cli import main

sys.exit(main())
