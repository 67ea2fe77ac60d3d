"""minimind-notes: learn how a modern LLM is built by measuring it, then train MiniMind.

Importing the package is cheap: torch is imported only by the submodules that need it.
"""

__version__ = "0.1.0"
