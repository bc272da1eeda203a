"""CI glue: what only the GitHub workflows (and scripts/drift.sh) call, never the product.

`python -m pipeline.ci` (branch to stack, environments, the wrong-cluster guard),
`python -m pipeline.drift` (the drift report) and `python -m pipeline.release` (the release
ledger and rollback restore); docs/pipeline.md and docs/operations.md. Kept free of imports:
the record-release job runs `pipeline.release` on the runner's bare Python.
"""
