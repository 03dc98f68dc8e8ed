"""Benchmarks: each prints its figures next to a same-run baseline; results in bench/RESULTS.md."""
