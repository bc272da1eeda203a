"""The stack config: its model (the one declaration of every key), its rules and its loader."""

from components.config.engine import from_pulumi_config
from components.config.errors import ConfigError
from components.config.loading import Loaded, load

__all__ = ["ConfigError", "Loaded", "from_pulumi_config", "load"]
