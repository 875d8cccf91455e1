"""MapServer as a persistent WSGI app (mapscript): the mapfile is parsed once per process, not per request.

    MAPFILE=/path/bench.map gunicorn --workers 2 mapscript_wsgi:application
"""

import os

import mapscript

TEMPLATE = mapscript.mapObj(os.environ["MAPFILE"])


def application(environ, start_response):
    request = mapscript.OWSRequest()
    request.loadParamsFromURL(environ.get("QUERY_STRING", ""))
    m = TEMPLATE.clone()  # a request sets size, extent and layer states on the map it is given
    mapscript.msIO_installStdoutToBuffer()
    try:
        m.OWSDispatch(request)
        content_type = mapscript.msIO_stripStdoutBufferContentType() or "application/octet-stream"
        body = mapscript.msIO_getStdoutBufferBytes()
    finally:
        mapscript.msIO_resetHandlers()
    start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]
