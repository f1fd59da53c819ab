"""Errors that reach the user as one line and exit code 2."""


class UserError(Exception):
    """A mistake in the user's input (file, option, mask): reported in one line, exit 2."""
