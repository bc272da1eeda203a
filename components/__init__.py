"""Reusable Pulumi components of the notification-delivery deployment program.

The package itself imports nothing, so that a module of plain names such as
`components.conventions` loads without the Pulumi SDK: the policy pack reads it and runs without
the program's dependencies. Import what you use from its module (`components.program`,
`components.microservice`, `components.environment`).
"""
