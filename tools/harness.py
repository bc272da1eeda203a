"""Run the real `__main__.py` under Pulumi's mock runtime and record what it registers.

The mock plays the part of the providers where the program reads something back: it names
auto-named Kubernetes objects the way pulumi-kubernetes does (logical name plus a suffix, a new
suffix whenever the object's inputs change, as a replacement would), and gives a built image a
`repoDigest`. Everything else is exactly what the program sent to the engine.

With `preview=True` the run is a `pulumi preview`: an output the provider does not return in a
preview is unknown to the program, as the SDK resolves a missing output during a dry run. That
is a built image's `repoDigest` (pulumi-docker returns only the inputs in a preview unless
`buildOnPreview`). A generated Kubernetes name stays known: pulumi-kubernetes assigns it in
Check, which runs in a preview too (`provider/pkg/metadata/naming.go`). Unknown values appear
in `Registered.inputs`, `state` and `ProgramRun.outputs` as `pulumi.output.Unknown`; see
`is_unknown`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import runpy
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.output import UNKNOWN, Unknown, contains_unknowns
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from tools.stack_config import ROOT, StackConfig

SECRET_SIG = "4dabf18193072939515e22adb298388d"
_WORKER_LOOPS: set[asyncio.AbstractEventLoop] = set()
# Fields whose change makes pulumi-kubernetes replace a ConfigMap or Secret rather than update it.
REPLACING_FIELDS = ("data", "stringData", "binaryData")
DIGEST_PLACEHOLDER = "sha256:0000000000000000000000000000000000000000000000000000000000000000"


@dataclass
class Registered:
    """One resource as the engine would receive it."""

    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    state: dict[str, Any]
    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool = False
    replace_on_changes: list[str] = field(default_factory=list)
    ignore_changes: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    provider: str = ""
    """The provider reference (`urn::id`) the engine would use; empty for components."""

    @property
    def is_kubernetes(self) -> bool:
        return self.type.startswith("kubernetes:") and self.custom

    @property
    def kind(self) -> str:
        return self.type.rsplit(":", 1)[-1]


@dataclass
class ProgramRun:
    resources: list[Registered]
    outputs: dict[str, Any]
    secret_outputs: set[str]

    def kubernetes(self) -> list[Registered]:
        return [r for r in self.resources if r.is_kubernetes]

    def find(self, kind: str, name: str) -> Registered:
        for resource in self.kubernetes():
            if resource.kind == kind and object_name(resource) == name:
                return resource
        raise KeyError(f"no {kind} named {name!r}")


def is_secret(value: Any) -> bool:
    return isinstance(value, Mapping) and SECRET_SIG in value


def contains_secret(value: Any) -> bool:
    """True when any part of `value` is a secret envelope."""
    if is_secret(value):
        return True
    if isinstance(value, Mapping):
        return any(contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_secret(v) for v in value)
    return False


def is_unknown(value: Any) -> bool:
    """True for a value a preview does not know yet."""
    return isinstance(value, Unknown)


def contains_unknown(value: Any) -> bool:
    """True when any part of `value` is unknown (secret envelopes are looked into)."""
    if is_unknown(value):
        return True
    if isinstance(value, Mapping):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_unknown(v) for v in value)
    return False


def _stable(value: Any) -> str:
    # Fingerprints must not depend on an object's address.
    return "<unknown>" if is_unknown(value) else str(value)


def reveal(value: Any) -> Any:
    """Strip secret envelopes (for assertions on structure, never for output)."""
    if is_secret(value):
        return reveal(value["value"])
    if isinstance(value, Mapping):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def object_name(resource: Registered) -> str | None:
    meta = reveal(resource.state.get("metadata") or {})
    return meta.get("name")


class ProviderMocks(pulumi.runtime.Mocks):
    """Stand-in for the Kubernetes and Docker providers' read-back values."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        state = dict(args.inputs)
        if args.typ.startswith("kubernetes:"):
            meta = dict(reveal(state.get("metadata") or {}))
            if not meta.get("name"):
                # A replacement is a create, and a create draws a new random suffix: derive the
                # stand-in from what forces a replacement (a ConfigMap's or Secret's data; for
                # other kinds, any input), so that only such a change gives a new name.
                replacing = {k: args.inputs[k] for k in REPLACING_FIELDS if k in args.inputs}
                fingerprint = json.dumps(
                    reveal(replacing or args.inputs), sort_keys=True, default=_stable
                )
                suffix = hashlib.sha256(f"{args.name}|{fingerprint}".encode()).hexdigest()[:8]
                meta["name"] = f"{args.name}-{suffix}"
                state["metadata"] = meta
        if args.typ == "docker:index/image:Image":
            if not pulumi.runtime.is_dry_run():
                repository = str(args.inputs.get("imageName", "")).rsplit(":", 1)[0]
                state["repoDigest"] = f"{repository}@{DIGEST_PLACEHOLDER}"
            elif args.inputs.get("buildOnPreview") is True:
                # Built locally, not pushed: the provider reports the local image ID.
                state["repoDigest"] = DIGEST_PLACEHOLDER
            # Otherwise no build in a preview: the output is missing, hence unknown.
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        return {}


class _Capturing(pulumi.runtime.Mocks):
    """Passes calls on to the real mocks and keeps the inputs of the latest registration."""

    def __init__(self, inner: pulumi.runtime.Mocks) -> None:
        self.inner = inner
        # Registrations run concurrently on the SDK's worker threads; each thread handles one
        # registration at a time, start to finish.
        self.latest = threading.local()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        self.latest.inputs = dict(args.inputs)
        return self.inner.new_resource(args)

    def call(self, args: pulumi.runtime.MockCallArgs) -> Any:
        return self.inner.call(args)


class RecordingMonitor(MockMonitor):
    """The SDK's mock monitor, also keeping the inputs and the resource options it drops."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        self.capturing = _Capturing(mocks)
        super().__init__(self.capturing)
        self.options: dict[str, dict[str, Any]] = {}
        self.inputs: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        self.capturing.latest.inputs = {}
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            # The SDK gave this worker thread an event loop of its own; shutdown() closes it.
            _WORKER_LOOPS.add(asyncio.get_event_loop())
            self.order.append(response.urn)
            self.inputs[response.urn] = self.capturing.latest.inputs
            self.options[response.urn] = {
                "type": request.type,
                "name": request.name,
                "parent": request.parent,
                "custom": request.custom,
                "protect": bool(request.protect),
                "retain_on_delete": bool(request.retainOnDelete),
                "delete_before_replace": bool(request.deleteBeforeReplace),
                "replace_on_changes": list(request.replaceOnChanges),
                "ignore_changes": list(request.ignoreChanges),
                "dependencies": list(request.dependencies),
                "provider": request.provider,
            }
        return response


def shutdown() -> None:
    """Join the SDK's worker threads before the interpreter exits.

    The mock monitor runs in executor threads, each with an event loop of its own; left to
    interpreter teardown, those loops are collected after their sockets and print a spurious
    traceback. Call once, when no program will run again in this process.
    """
    loop = asyncio.get_event_loop()
    loop.run_until_complete(loop.shutdown_default_executor())
    # The worker threads are gone, but their loops stay referenced from the SDK's futures.
    for worker_loop in _WORKER_LOOPS:
        if worker_loop is not loop and not worker_loop.is_running():
            worker_loop.close()
    _WORKER_LOOPS.clear()


async def settle(value: Any) -> tuple[Any, bool]:
    """An export's value with every Output in it awaited, and whether any part of it is secret.

    The same value and secrecy as `Output.from_input(value)` read with unknowns: an Output that
    is not known and holds no unknown reads as `UNKNOWN`, as the SDK's `apply` makes it. Awaited
    leaf by leaf because `from_input` wraps every nested dict, list and value in an Output of its
    own (a task each), which made reading the exports back about a fortieth of the whole run per
    service (docs/benchmark.md).
    """
    if isinstance(value, pulumi.Output):
        inner = await value.future(with_unknowns=True)
        if not await value.is_known() and not contains_unknowns(inner):
            inner = UNKNOWN
        inner, secret = await settle(inner)
        return inner, secret or await value.is_secret()
    if isinstance(value, Mapping):
        settled = {k: await settle(v) for k, v in value.items()}
        return {k: v for k, (v, _) in settled.items()}, any(s for _, s in settled.values())
    if isinstance(value, list | tuple):
        parts = [await settle(v) for v in value]
        values = [v for v, _ in parts]
        return (values if isinstance(value, list) else tuple(values)), any(s for _, s in parts)
    return value, False


def run_program(
    config: StackConfig,
    *,
    main: Path = ROOT / "__main__.py",
    mocks: pulumi.runtime.Mocks | None = None,
    preview: bool = False,
    program: Callable[[], object] | None = None,
) -> ProgramRun:
    """Run `main` with `config`; raise what the program raises (`pulumi.RunError` for config).

    `preview=True` runs it as `pulumi preview` does (see the module docstring). `program`, when
    given, runs instead of `main`: a function that registers resources and exports, such as one
    calling `components.program.deploy` with a stack loaded against a catalog of its own.
    """
    mocks = mocks or ProviderMocks()
    monitor = RecordingMonitor(mocks)
    # The SDK declares these through a decorator pyright cannot bind; they exist at run time.
    runtime_settings.SETTINGS.rpc_manager.clear()  # pyright: ignore[reportAttributeAccessIssue]
    runtime_settings.SETTINGS.outputs.clear()  # pyright: ignore[reportAttributeAccessIssue]
    runtime_settings.set_root_resource(None)  # type: ignore[arg-type]
    pulumi.runtime.set_mocks(
        mocks, project=config.project, stack=config.stack, preview=preview, monitor=monitor
    )
    values, secret_keys = config.to_pulumi()
    pulumi.runtime.set_all_config(values, secret_keys)

    outputs: dict[str, Any] = {}
    secret_outputs: set[str] = set()

    async def run() -> None:
        if program is not None:
            program()
        else:
            runpy.run_path(str(main), run_name="__main__")
        root = runtime_settings.get_root_resource()
        for key, value in getattr(root, "outputs", {}).items():
            outputs[key], secret = await settle(value)
            if secret:
                secret_outputs.add(key)

    _sync_await(run_pulumi_func(run))

    resources = []
    # Registrations complete in whatever order the worker threads finish; sort for stable output.
    for urn in sorted(monitor.order):
        registration = monitor.resources.get(urn)
        state = dict(registration.state or {}) if registration is not None else {}
        resources.append(
            Registered(urn=urn, inputs=monitor.inputs[urn], state=state, **monitor.options[urn])
        )
    return ProgramRun(resources=resources, outputs=outputs, secret_outputs=secret_outputs)
