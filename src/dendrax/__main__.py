"""`python -m dendrax`: see `dendrax.cli`."""

import sys

from dendrax.cli import main

sys.exit(main())
