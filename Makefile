# Entry points for people and CI (`make help` lists them). `make render` and `make test` need
# only the virtualenv; `make local-up` / `make local-down` need docker, kind, kubectl and pulumi
# (docs/local.md);
# `make policy-install`, `make preview` and `make drift` need the Pulumi CLI.
PYTHON ?= .venv/bin/python
STACK ?= dev

CLUSTER_DIR ?= .cluster

.PHONY: render test toolchain cluster-up cluster-down e2e local-up local-down policy-install preview drift help

## render: write the $(STACK) stack's Kubernetes objects to rendered/$(STACK) (no cluster needed)
render:
	$(PYTHON) -m tools.render $(STACK)

## test: every test; the kind integration test skips itself unless a cluster is there
test:
	$(PYTHON) -m pytest

## toolchain: build the pinned Pulumi CLI, provider and control plane from the Go module proxy
## (cached outside the repo; docs/real-engine.md)
toolchain:
	scripts/toolchain.sh

## cluster-up: a control plane without Docker in $(CLUSTER_DIR) (simulated pods; docs/local.md)
cluster-up:
	scripts/cluster.sh up $(CLUSTER_DIR)

## cluster-down: stop the control plane `make cluster-up` started
cluster-down:
	scripts/cluster.sh down $(CLUSTER_DIR)

## e2e: only the end-to-end suite (the real CLI against scripts/cluster.sh); `make test` runs it too
e2e:
	$(PYTHON) -m pytest tests/e2e

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
	@sed -n -e 's/^## \([a-z0-9-]*:\)/\1/p' -e 's/^## /    /p' $(firstword $(MAKEFILE_LIST))
