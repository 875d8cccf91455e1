"""Helpers for the test suite and the benchmarks: real servers started in temporary folders."""
