# Entry points for people and CI. `make render` and `make test` need only the virtualenv;
# `make local-up` / `make local-down` need docker, kind, kubectl and pulumi (docs/local.md).
PYTHON ?= .venv/bin/python
STACK ?= dev

.PHONY: render test local-up local-down

## render: write the $(STACK) stack's Kubernetes objects to rendered/$(STACK) (no cluster needed)
render:
	$(PYTHON) -m tools.render $(STACK)

## test: every test; the kind integration test skips itself unless a cluster is there
test:
	$(PYTHON) -m pytest

## local-up: kind cluster + images + `pulumi up --stack local`
local-up:
	scripts/local-up.sh

## local-down: `pulumi destroy --stack local`, then delete the kind cluster
local-down:
	scripts/local-down.sh
