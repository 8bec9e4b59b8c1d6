"""User-facing errors.

Anything raised as a ``DfmganError`` is a problem with the user's input (a file,
a flag, a config), not a bug: the CLI prints its message as one line and exits
with status 2, without a traceback.
"""


class DfmganError(Exception):
    """Bad input that the user can fix; the message names the problem. ``flag`` and
    ``fix`` name a flag that would get past it ("--skip-bad", "leaves them out"): the CLI
    adds them to the line only where the command that failed has that flag, so an error
    never suggests another command's flag."""

    def __init__(self, message: str = "", *, flag: str = "", fix: str = ""):
        super().__init__(escaped(message))
        self.flag, self.fix = flag, fix


def escaped(message) -> str:
    """The message with every character that breaks a line or controls a terminal escaped
    (a newline in a file's name or a JSON key read back as ``\\n``), so that an error is one
    line to the CLI and to a caller of the Python API alike; other text is left as it is.
    Not ``cli.one_line``, which joins another tool's lines and cuts an endless message, nor
    ``outputs.shown``, which escapes every non-ASCII character of a path."""
    import unicodedata

    text = str(message)
    if text.isprintable():  # the common case: nothing to escape
        return text
    return "".join(c.encode("unicode_escape").decode("ascii")
                   if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)


class DataError(DfmganError):
    """A dataset is unknown, missing, corrupt or empty."""


class ConfigError(DfmganError):
    """A flag, preset or config file is invalid, or does not match a run."""


class CheckpointError(DfmganError):
    """A checkpoint or snapshot is missing, corrupt or from another configuration."""


class DivergedError(DfmganError):
    """Training produced a NaN or inf loss; the run stopped, its last good state kept.
    The CLI exits with status 3 (not 2: the input was fine, the optimisation was not)."""
