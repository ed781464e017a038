"""Twisted Web's WSGI container serving demo/app.py, on whichever Python runs this file
(CPython for the "twisted" stack, PyPy for "pypy"). One process; the WSGI app runs in the
reactor's thread pool of DEMO_WORKERS threads.

    python twisted_serve.py PORT
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from twisted.internet import reactor  # noqa: E402
from twisted.python.threadpool import ThreadPool  # noqa: E402
from twisted.web.server import Site  # noqa: E402
from twisted.web.wsgi import WSGIResource  # noqa: E402

from app import app  # noqa: E402


def main():
    port = int(sys.argv[1])
    workers = int(os.environ.get("DEMO_WORKERS", "4"))
    pool = ThreadPool(minthreads=workers, maxthreads=workers, name="wsgi")
    reactor.callWhenRunning(pool.start)
    reactor.addSystemEventTrigger("after", "shutdown", pool.stop)
    site = Site(WSGIResource(reactor, pool, app))
    site.noisy = False
    reactor.listenTCP(port, site, backlog=256, interface="127.0.0.1")
    reactor.run()


if __name__ == "__main__":
    main()
