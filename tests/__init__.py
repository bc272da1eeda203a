"""The test suite (a package, so that tests/e2e/ may hold test modules of the same names)."""
