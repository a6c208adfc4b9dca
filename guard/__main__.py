"""Allow `python -m guard`, the same as the `rez-guard` command."""

import sys

from guard.cli.main import main

sys.exit(main())
