"""Whether the real Pulumi engine runs the program, or the SDK's mock runtime of the tests and
the offline render (the config loader checks the cluster context only under the engine)."""

from __future__ import annotations


def under_engine() -> bool:
    """True when the real Pulumi engine runs this program (its monitor is the gRPC stub), not
    the SDK's mock runtime of the tests and the offline render."""
    from pulumi.runtime.proto import resource_pb2_grpc
    from pulumi.runtime.settings import get_monitor

    return isinstance(get_monitor(), resource_pb2_grpc.ResourceMonitorStub)
