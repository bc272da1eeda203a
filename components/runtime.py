"""How the program uses the interpreter when the Pulumi engine runs it.

Under `pulumi up`/`preview` the program builds one large heap of SDK objects and ends. The
cyclic garbage collector walks that heap again and again while the program registers, for
garbage that dies with the process anyway: 130-150 ms of CPU for the dev stack's registrations,
measured with `gc.callbacks` under the mock runtime on 2 loaded cores. Teardown cannot be
skipped here: the language host's runner (pulumi/pulumi sdk/python/cmd/
pulumi-language-python-exec) waits for the registrations after the program returns and then picks
the exit code, so the program must not end the process itself.
"""

from __future__ import annotations

import gc


def under_engine() -> bool:
    """True when the real Pulumi engine runs this program (its monitor is the gRPC stub), not
    the SDK's mock runtime of the tests and the offline render."""
    from pulumi.runtime.proto import resource_pb2_grpc
    from pulumi.runtime.settings import get_monitor

    return isinstance(get_monitor(), resource_pb2_grpc.ResourceMonitorStub)


def collect_less_under_engine() -> None:
    """No cyclic collection for the rest of the run, when the real engine runs this program.

    The tests and the offline render run `__main__.py` inside their own process through the
    SDK's mock monitor; those processes keep the collector as their owner set it.
    """
    if under_engine():
        gc.disable()
