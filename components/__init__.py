"""Reusable Pulumi components of the notification-delivery deployment program."""

from components.environment import Environment, EnvironmentArgs
from components.microservice import Microservice, MicroserviceArgs

__all__ = ["Environment", "EnvironmentArgs", "Microservice", "MicroserviceArgs"]
