"""A guard that turns a hang into a test failure: the code under test must answer in
milliseconds, so a time limit of seconds only trips on a real hang."""
import signal
from contextlib import contextmanager


class Hang(BaseException):
    """Not an Exception: no ``except Exception`` in symnorm may turn a hang into an error."""


@contextmanager
def no_hang(seconds=5):
    def fail(*_):
        raise Hang("no answer within %s s" % seconds)
    old = signal.signal(signal.SIGALRM, fail)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
