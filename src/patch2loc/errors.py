"""The error type for bad input (its own module so that io and outputs can both use it)."""


class InputError(ValueError):
    """Bad input: the message names the file and the fix (the CLI prints it as one line, exit 2)."""
