"""minimind-notes: learn how a modern LLM is built by measuring it, then train MiniMind.

Importing the package is cheap: torch is imported only by the submodules that need it.
"""

import time

__version__ = "0.1.0"
# When this process started running minimind-notes: `minimind train --time-budget` counts from here.
STARTED = time.monotonic()
