"""One exception type for bad user input: the CLI prints its message (which names the file and the fix)
without a traceback. Library callers can catch it like any ValueError."""


class PixelwiseError(ValueError):
    """A user-facing error whose message says what is wrong and how to fix it."""
