"""Benchmarks: see docs/benchmarks.md. Run them all with ``make bench``."""
