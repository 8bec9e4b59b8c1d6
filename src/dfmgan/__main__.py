"""``python -m dfmgan`` and the ``dfmgan`` script: Ctrl-C at any moment, start-up imports
included, ends quietly with status 130, and a closed pipe (``dfmgan info RUN | head``) with
the shell's 141; neither prints a traceback."""
import os
import signal
import sys


def from_ctrl_c(error: BaseException | None) -> bool:
    """Ctrl-C inside a C extension's module initialisation (scipy's, while sklearn loads
    the digits) surfaces as ``ImportError: initialization failed`` raised from the
    KeyboardInterrupt: follow the chain to tell it from a real import error."""
    while error is not None:
        if isinstance(error, KeyboardInterrupt):
            return True
        error = error.__cause__ or error.__context__
    return False


def run() -> None:
    try:
        from .cli import main

        code = main()
        sys.stdout.flush()
    except KeyboardInterrupt:
        code = 128 + signal.SIGINT
    except ImportError as e:
        if not from_ctrl_c(e):
            raise
        code = 128 + signal.SIGINT
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        code = 128 + signal.SIGPIPE
    sys.exit(code)


if __name__ == "__main__":
    run()
