"""Speed and memory benchmarks of sklearn-lt; run them with ``python -m benchmarks.run``."""
