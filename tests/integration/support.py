"""Helpers every integration test uses: free loopback ports and cleanups that always run."""
import socket
import sys


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cleanups:
    """Mixin for unittest.TestCase: self.cleanups run in reverse order after each test, all of
    them even when one fails, so no server is left behind."""

    def setUp(self):
        self.cleanups = []

    def tearDown(self):
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as e:  # keep cleaning up the rest
                print("cleanup:", e, file=sys.stderr)
