"""Serve an ASGI application in N uvicorn processes, each with its own listening socket on one port (SO_REUSEPORT).

The benchmarks run every peer this way, as ``kartenn serve --workers N`` runs Kartenn: with one socket shared
by ``uvicorn --workers N``, the first process to wake takes the load generator's keep-alive connections all at
once and the others idle. Run with the peer's own Python (its virtualenv); uvicorn picks uvloop and httptools
when they are installed (``uvicorn[standard]``).

    python reuseport.py tipg.main:app --port 8081 --workers 2
"""

from __future__ import annotations

import argparse
import multiprocessing
import signal
import socket
import sys

import uvicorn


def _socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def _serve(app: str, host: str, port: int, log_level: str) -> None:
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False)
    uvicorn.Server(config).run(sockets=[_socket(host, port)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("app", help="the ASGI application, module:attribute")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_serve, args=(args.app, args.host, args.port, args.log_level))
             for _ in range(args.workers)]
    for proc in procs:
        proc.start()

    def stop(*_: object) -> None:
        for proc in procs:
            proc.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for proc in procs:
        proc.join()
    sys.exit(max((proc.exitcode or 0) for proc in procs) if procs else 0)


if __name__ == "__main__":
    main()
