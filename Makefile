# Entry points for people and CI (`make help` lists them). `make render` and `make test` need
# only the virtualenv; `make local-up` / `make local-down` need docker, kind, kubectl and pulumi
# (docs/local.md);
# `make policy-install`, `make preview` and `make drift` need the Pulumi CLI.
PYTHON ?= .venv/bin/python
STACK ?= dev

.PHONY: render test local-up local-down policy-install preview drift help

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

## policy-install: create policy/.venv for the policy pack (`pulumi install` inside policy/);
## a local `--policy-pack policy` installs nothing itself
policy-install:
	cd policy && pulumi install

## preview: `pulumi preview` of $(STACK) with the policy pack, refreshed, as CI runs it first
preview:
	pulumi preview --stack $(STACK) --policy-pack policy --refresh

## drift: read-only check of $(STACK) for changes made outside a deploy (docs/operations.md)
drift:
	PYTHON=$(PYTHON) scripts/drift.sh $(STACK)

## help: list these targets, from the `##` lines of this Makefile
help:
	@sed -n -e 's/^## \([a-z-]*:\)/\1/p' -e 's/^## /    /p' $(firstword $(MAKEFILE_LIST))
