"""`python -m tools.diagram`: the command in `tools/diagram/cli.py`."""

import sys

from tools.diagram.cli import main
from tools.harness import shutdown

# Here rather than in main(), which the tests call more than once in one process: after
# shutdown() no program can run again.
try:
    code = main()
finally:
    shutdown()
sys.exit(code)
