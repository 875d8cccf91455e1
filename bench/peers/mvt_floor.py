"""The floor for a vector tile on PostGIS: a bare ASGI app that runs one ST_AsMVT query per tile, nothing else.

    DATABASE_URL=postgresql://… MVT_TABLE=schema.table MVT_FIELDS=code,nom uvicorn mvt_floor:app
GET /tiles/{z}/{x}/{y} → the MVT bytes (204 when empty). WebMercatorQuad, 4096 grid, 64 px buffer.
"""

import os

from psycopg import sql
from psycopg_pool import AsyncConnectionPool

SCHEMA, TABLE = os.environ["MVT_TABLE"].split(".", 1)
FIELDS = [f for f in os.environ.get("MVT_FIELDS", "").split(",") if f]
QUERY = sql.SQL(
    "WITH b AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS env,"
    " ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 64.0 / 4096), 4326) AS box),"
    " rows AS (SELECT ST_AsMVTGeom(ST_Transform(t.geom, 3857), b.env, 4096, 64, true) AS mvt_geom, t.fid{attrs}"
    " FROM {table} t, b WHERE t.geom && b.box)"
    " SELECT ST_AsMVT(rows.*, 'layer', 4096, 'mvt_geom', 'fid') FROM rows WHERE mvt_geom IS NOT NULL"
).format(attrs=sql.SQL("").join(sql.SQL(", t.{}").format(sql.Identifier(f)) for f in FIELDS),
         table=sql.Identifier(SCHEMA, TABLE))
# Autocommit: a connection goes back to the pool with no rollback to wait for.
pool = AsyncConnectionPool(os.environ["DATABASE_URL"], min_size=4, max_size=8, kwargs={"autocommit": True}, open=False)


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await pool.open()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    parts = scope["path"].strip("/").split("/")
    if len(parts) != 4 or parts[0] != "tiles" or not all(p.isdigit() for p in parts[1:]):
        await _send(send, 404, b"not found", b"text/plain")
        return
    z, x, y = map(int, parts[1:])
    async with pool.connection() as conn:
        cur = await conn.execute(QUERY, {"z": z, "x": x, "y": y})
        row = await cur.fetchone()
    body = bytes(row[0]) if row and row[0] is not None else b""
    if body:
        await _send(send, 200, body, b"application/vnd.mapbox-vector-tile")
    else:
        await _send(send, 204, b"", b"application/vnd.mapbox-vector-tile")


async def _send(send, status, body, media):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", media), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
