"""`python -m tfrconv`."""

import sys

from tfrconv.cli import main

sys.exit(main())
