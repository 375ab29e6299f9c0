"""`python -m patch2loc.cli ...`: the same as the `patch2loc` command."""

import sys

from patch2loc.cli import main

sys.exit(main())
