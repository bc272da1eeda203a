"""The stack config: its model (the one declaration of every key), its rules and its loader.

`components.settings` (what the components consume) is built from `model` and imported by
`load`, so the loader is imported on first use here rather than at package import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from components.config.errors import ConfigError
    from components.config.loading import Loaded, from_pulumi_config, load, render_session

__all__ = ["ConfigError", "Loaded", "from_pulumi_config", "load", "render_session"]


def __getattr__(name: str) -> Any:
    if name == "ConfigError":
        from components.config.errors import ConfigError

        return ConfigError
    if name in ("Loaded", "from_pulumi_config", "load", "render_session"):
        from components.config import loading as loader

        return getattr(loader, name)
    raise AttributeError(name)
