"""End-to-end tests: the real Pulumi CLI against scripts/cluster.sh (docs/real-engine.md)."""
