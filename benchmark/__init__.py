"""The benchmark: `python -m benchmark` (docs/benchmark.md); committed figures in `results/`.

Not part of the product or of the review tooling: it measures them. Kept empty of imports, so
that the limit process (`benchmark.limit`) loads nothing of the project but `benchmark.bare`.
"""
