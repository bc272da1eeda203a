"""One stack, one environment: load its config, deploy it, export what it runs."""

from pathlib import Path

import pulumi

from components.config import from_pulumi_config
from components.program import deploy, stack_outputs
from components.runtime import collect_less_under_engine

# Under `pulumi up`/`preview` no collection passes over the heap the run builds (under the
# tests' and the render's mock runtime this changes nothing). Measured, not assumed: the dev
# stack's registrations spend 130-150 ms of CPU in the collector (gc.callbacks, mock runtime,
# 2 loaded cores), all of it saved.
collect_less_under_engine()

# Every check runs before the first resource is registered, so bad config creates nothing.
settings = from_pulumi_config(Path(__file__).resolve().parent)
for key, value in stack_outputs(deploy(settings)).items():
    pulumi.export(key, value)
