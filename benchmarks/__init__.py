"""Benchmark scripts of bonefem (plain Python; see docs/performance.md)."""
