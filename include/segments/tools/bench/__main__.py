"""`python -m segments.tools.bench`: the benchmark, and each of its worker processes."""

import sys

from segments.tools.bench.cli import main

sys.exit(main())
