"""MapServer as a persistent WSGI app (mapscript): the mapfile is parsed once per process, not per request.

Run as a script, it serves the app like Kartenn serves itself: N gunicorn servers of one worker each, every one
with its own listening socket on the port (``--reuse-port``), so the kernel spreads the connections across the
processes. gunicorn's ``--workers N`` alone forks N workers that share the master's one socket. Each worker is a
gthread worker with one thread: one map at a time per process (MapServer's FastCGI model), with keep-alive
connections like the other peers (gunicorn's sync worker closes every connection after its answer).

    MAPFILE=/path/bench.map python mapscript_wsgi.py --port 8082 --workers 2
"""

import argparse
import os
import signal
import subprocess
import sys
from functools import cache

import mapscript


@cache
def template() -> mapscript.mapObj:
    return mapscript.mapObj(os.environ["MAPFILE"])


def application(environ, start_response):
    request = mapscript.OWSRequest()
    request.loadParamsFromURL(environ.get("QUERY_STRING", ""))
    m = template().clone()  # a request sets size, extent and layer states on the map it is given
    mapscript.msIO_installStdoutToBuffer()
    try:
        m.OWSDispatch(request)
        content_type = mapscript.msIO_stripStdoutBufferContentType() or "application/octet-stream"
        body = mapscript.msIO_getStdoutBufferBytes()
    finally:
        mapscript.msIO_resetHandlers()
    start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    cmd = [sys.executable, "-m", "gunicorn", "--workers", "1", "--worker-class", "gthread", "--threads", "1",
           "--reuse-port", "--bind", f"{args.host}:{args.port}", "--log-level", args.log_level,
           "mapscript_wsgi:application"]
    procs = [subprocess.Popen(cmd) for _ in range(args.workers)]

    def stop(*_: object) -> None:
        for proc in procs:
            proc.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.exit(max(proc.wait() for proc in procs) if procs else 0)


if __name__ == "__main__":
    main()
