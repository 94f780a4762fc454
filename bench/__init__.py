"""Benchmarks: `make bench` or `python -m bench.<name>`.

Each script prints its figures, the summary line last.
"""
