"""Allow `python -m bench`: run the launch benchmark."""

import sys

from bench.launch_bench import main

sys.exit(main())
