"""``python -m stylevid``."""

import sys

from stylevid.cli import main

sys.exit(main())
