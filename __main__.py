"""One stack, one environment: load its config, deploy it, export what it runs."""

from pathlib import Path

from components.runtime import collect_less_under_engine

# Under `pulumi up`/`preview` the run builds one large heap and ends: no collection passes over
# it (under the tests' and the render's mock runtime this changes nothing).
collect_less_under_engine()

import pulumi  # noqa: E402

from components.config import from_pulumi_config  # noqa: E402
from components.program import deploy, stack_outputs  # noqa: E402

# Every check runs before the first resource is registered, so bad config creates nothing.
settings = from_pulumi_config(Path(__file__).resolve().parent)
for key, value in stack_outputs(deploy(settings)).items():
    pulumi.export(key, value)
