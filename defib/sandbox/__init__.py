"""Sandboxes: change a copy of the CIB, simulate it, commit it safely."""
