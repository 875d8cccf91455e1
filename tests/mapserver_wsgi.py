"""MapServer's WMS and WFS (Debian's python3-mapscript) over WSGI on 127.0.0.1, for the tests; run with the system
Python that mapscript is built for. The mapfile is read at every request, so a test changes the service by
rewriting it.

    MAPFILE=/path/test.map /usr/bin/python3 tests/mapserver_wsgi.py PORT
"""

import os
import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server

import mapscript


def application(environ, start_response):
    request = mapscript.OWSRequest()
    request.loadParamsFromURL(environ.get("QUERY_STRING", ""))
    m = mapscript.mapObj(os.environ["MAPFILE"])
    mapscript.msIO_installStdoutToBuffer()
    try:
        m.OWSDispatch(request)
        content_type = mapscript.msIO_stripStdoutBufferContentType() or "application/octet-stream"
        body = mapscript.msIO_getStdoutBufferBytes()
    finally:
        mapscript.msIO_resetHandlers()
    start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


if __name__ == "__main__":
    make_server("127.0.0.1", int(sys.argv[1]), application, handler_class=Quiet).serve_forever()
