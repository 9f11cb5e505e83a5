"""modelyard benchmarks: measurements (not tests) of the performance targets.

Run them with ``make bench`` (``python -m benchmarks.run``); see docs/performance.md.
"""
