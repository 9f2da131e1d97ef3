"""The base of every error a user's own file or value causes (a config, a scenario).

The command line prints such an error as it is and exits 2 (a usage error), wherever it
is raised: the message already names the file, where in it, and why.
"""

from __future__ import annotations


class UserInputError(Exception):
    headline = "invalid input"
    """The first line the command line prints above the message."""
