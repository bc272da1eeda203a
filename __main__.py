"""One stack, one environment: load its config, deploy it, export what it runs."""

from pathlib import Path

import pulumi

from components.config import from_pulumi_config
from components.program import deploy, stack_outputs

# Every check runs before the first resource is registered, so bad config creates nothing.
settings = from_pulumi_config(Path(__file__).resolve().parent)
for key, value in stack_outputs(deploy(settings)).items():
    pulumi.export(key, value)
