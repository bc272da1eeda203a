"""One stack, one environment: load its config, deploy it, export what it runs."""

from pathlib import Path

from components.program import run

run(Path(__file__).resolve().parent)
