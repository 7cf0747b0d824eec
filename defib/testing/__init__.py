"""Test support shared by the test suite and the benchmarks (generated inputs, not fakes)."""
