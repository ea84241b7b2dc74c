"""``python -m circopt ...``: the same command line as the ``circopt`` script."""

import sys

from .cli import main

sys.exit(main())
