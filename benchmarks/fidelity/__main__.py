"""``python -m benchmarks.fidelity``: see :func:`benchmarks.fidelity.runner.main`."""

import sys

from .runner import main

sys.exit(main())
