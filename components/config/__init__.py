"""The stack config: its model (the one declaration of every key), its rules and its loader."""

from components.config.errors import ConfigError
from components.config.loading import Loaded, from_pulumi_config, load, render_session

__all__ = ["ConfigError", "Loaded", "from_pulumi_config", "load", "render_session"]
