"""Benchmarks: they print figures; the tests check correctness."""
