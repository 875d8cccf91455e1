"""Reading an input opens no network connection and no file outside the upload.

A real HTTP listener on 127.0.0.1 and inotify on a folder beside the upload see every attempt; each crafted
input is refused with a clear message or published without anything from outside.
"""

from __future__ import annotations

import ctypes
import http.server
import json
import os
import sqlite3
import struct
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa
import pyogrio
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from conftest import shared
from kartenn.domain.security import OPERATOR
from kartenn.errors import InvalidInput, KartennError, MissingCRS, UnsafeArchive, UnsupportedFormat
from kartenn.services.publish import publish_file
from kartenn.services.records import import_bytes, import_paths
from kartenn.site import Site
from publish_data import store_state, stored_rows

POINT = {"type": "Feature", "properties": {"name": "inside"}, "geometry": {"type": "Point", "coordinates": [1, 2]}}
SECRET = "TOPSECRET"


class Listener:
    """An HTTP server that counts connections (even ones that send nothing) and the paths asked."""

    def __init__(self) -> None:
        self.connections = 0
        self.paths: list[str] = []
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def setup(self) -> None:
                listener.connections += 1
                super().setup()

            def do_GET(self) -> None:  # noqa: N802
                listener.paths.append(self.path)
                body = b'GEOGCS["outside",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],' \
                       b'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_HEAD = do_GET

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def seen(self) -> list[str]:
        return self.paths or (["(a connection)"] if self.connections else [])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Opens:
    """Files opened or read in one folder, as Linux's inotify reports them (from this process or any other)."""

    def __init__(self, folder: Path) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(os.O_NONBLOCK)
        assert self.fd >= 0 and libc.inotify_add_watch(self.fd, str(folder).encode(), 0x01 | 0x20) >= 0  # ACCESS|OPEN

    def seen(self) -> list[str]:
        names = []
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return names
            at = 0
            while at < len(data):
                _, _, _, length = struct.unpack_from("iIII", data, at)
                names.append(data[at + 16:at + 16 + length].rstrip(b"\0").decode() or ".")
                at += 16 + length

    def close(self) -> None:
        os.close(self.fd)


@dataclass
class Case:
    path: Path
    refused: type[KartennError] | None = None  # None: published, with nothing from outside
    says: str = ""
    crs: str | None = None  # the crs parameter of an upload


def tif(path: Path, crs: str | None = "EPSG:4326") -> Path:
    with rasterio.open(path, "w", driver="GTiff", width=16, height=16, count=1, dtype="uint8", crs=crs,
                       transform=from_origin(0, 16, 1, 1)) as out:
        out.write(np.full((1, 16, 16), 7, dtype="uint8"))
    return path


def zipped(path: Path, members: dict[str, bytes | Path]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            if isinstance(data, Path):
                z.write(data, name)
            else:
                z.writestr(name, data)
    return path


def cases(up: Path, url: str, outside: Path) -> dict[str, Case]:
    """Inputs in every format that can name a URL or another path."""
    def geojson(name: str, crs: dict | None, padding: int = 0) -> Path:
        doc = {"type": "FeatureCollection", "features": [POINT] * (1 + padding)}
        if crs:
            doc["crs"] = crs  # after the features: GDAL reads it wherever it is
        path = up / name
        path.write_text(json.dumps(doc))
        return path

    gml = ('<?xml version="1.0"?><ogr:FeatureCollection xmlns:ogr="http://ogr.maptools.org/" '
           'xmlns:gml="http://www.opengis.net/gml" xmlns:xlink="http://www.w3.org/1999/xlink" '
           'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
           f'xsi:schemaLocation="http://ogr.maptools.org/ {url}/schema.xsd"><gml:featureMember><ogr:t fid="t.0">'
           f'<ogr:ref xlink:href="{url}/ref.gml#r"/><ogr:name>inside</ogr:name><ogr:geometryProperty>'
           '<gml:Point srsName="SRS"><gml:coordinates>1,2</gml:coordinates></gml:Point></ogr:geometryProperty>'
           '</ogr:t></gml:featureMember></ogr:FeatureCollection>')
    kml = ('<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
           f'<NetworkLink><Link><href>{url}/net.kml</href></Link></NetworkLink>'
           f'<Style id="s"><IconStyle><Icon><href>{url}/icon.png</href></Icon></IconStyle></Style>'
           f'<Placemark><name>inside</name><styleUrl>{url}/styles.kml#s</styleUrl>'
           '<Point><coordinates>1,2</coordinates></Point></Placemark></Document></kml>')
    ogr_vrt = (f"<OGRVRTDataSource><OGRVRTLayer name='c'><SrcDataSource>{outside / 'secret.csv'}</SrcDataSource>"
               "<GeometryType>wkbPoint</GeometryType><LayerSRS>EPSG:4326</LayerSRS>"
               "<GeometryField encoding='PointFromColumns' x='x' y='y'/></OGRVRTLayer></OGRVRTDataSource>")
    vrt = ('<VRTDataset rasterXSize="16" rasterYSize="16"><SRS>EPSG:4326</SRS><GeoTransform>0,1,0,16,0,-1'
           '</GeoTransform><VRTRasterBand dataType="Byte" band="1"><SimpleSource>'
           f'<SourceFilename relativeToVRT="0">/vsicurl/{url}/x.tif</SourceFilename><SourceBand>1</SourceBand>'
           f'</SimpleSource><SimpleSource><SourceFilename relativeToVRT="0">{outside / "secret.tif"}'
           '</SourceFilename><SourceBand>1</SourceBand></SimpleSource></VRTRasterBand></VRTDataset>')
    sidecars = up / "sidecars"
    sidecars.mkdir()
    image = tif(sidecars / "image.tif")
    (sidecars / "image.tif.aux.xml").write_text(f"<PAMDataset><Metadata><MDI key='a'>/vsicurl/{url}/mdi</MDI>"
                                                "</Metadata></PAMDataset>")
    pam = up / "pam"
    pam.mkdir()
    tif(pam / "pam.tif")
    (pam / "pam.tif.aux.xml").write_text(f"<PAMDataset><SRS>{url}/pam</SRS></PAMDataset>")
    (sidecars / "image.tif.ovr").write_text(vrt.replace('"16"', '"8"'))
    shp = up / "shp"
    shp.mkdir()
    points = pa.table({"name": ["inside"], "geometry": shapely.to_wkb(shapely.points([[1, 2]]))})
    pyogrio.write_arrow(points, shp / "pts.shp", driver="ESRI Shapefile", geometry_name="geometry",
                        geometry_type="Point", crs="EPSG:4326")
    (shp / "pts.prj").write_text(f"{url}/prj")
    grid = up / "grid"
    grid.mkdir()
    for part in shp.iterdir():
        (grid / part.name).write_bytes(part.read_bytes())
    (grid / "pts.prj").write_text(
        'GEOGCS["g",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],PRIMEM["Greenwich",0],'
        f'UNIT["degree",0.0174532925199433],EXTENSION["PROJ4","+proj=longlat +ellps=WGS84 +nadgrids={outside}/'
        'secret.tif +wktext"]]')
    symlink = zipfile.ZipInfo("passwd.csv")
    symlink.external_attr = 0o120777 << 16
    with zipfile.ZipFile(up / "symlink.zip", "w") as z:
        z.writestr(symlink, "/etc/passwd")
        z.writestr("readme.txt", "points")

    virtual = up / "virtual.sqlite"
    with sqlite3.connect(virtual) as db:
        db.execute("CREATE TABLE t (a)")
        db.execute("PRAGMA writable_schema = ON")  # a VirtualOGR table, without GDAL's module at hand
        db.execute("INSERT INTO sqlite_master VALUES ('table', 'v', 'v', 0, ?)",
                   (f"CREATE VIRTUAL TABLE v USING VirtualOGR('{outside}/secret.geojson')",))
    db.close()

    def write(name: str, text: str) -> Path:
        (up / name).write_text(text)
        return up / name

    # HDF5 (netCDF-4 too) reads data from other files by path: external storage, external links, virtual datasets
    (outside / "secret.bin").write_bytes(np.full(256, 7, dtype="float32").tobytes())
    with h5py.File(outside / "secret.h5", "w") as f:
        f.create_dataset("data", data=np.full((16, 16), 7, dtype="float32"))
    with h5py.File(up / "external.h5", "w") as f:
        f.create_dataset("data", shape=(16, 16), dtype="float32", external=[(str(outside / "secret.bin"), 0, 1024)])
    with h5py.File(up / "linked.nc", "w") as f:
        f["data"] = h5py.ExternalLink(str(outside / "secret.h5"), "/data")
        f.create_dataset("local", data=np.zeros((16, 16), dtype="float32"))
    layout = h5py.VirtualLayout(shape=(16, 16), dtype="float32")
    layout[:] = h5py.VirtualSource(str(outside / "secret.h5"), "data", shape=(16, 16))
    with h5py.File(up / "virtual.h5", "w") as f:
        f.create_virtual_dataset("data", layout)

    return {
        "geojson crs link": Case(geojson("link.geojson", {"type": "link", "properties": {"href": f"{url}/crs"}}),
                                 InvalidInput, "its CRS is a link"),
        # past the first megabyte the link is not seen before GDAL: GDAL itself must not reach the URL
        "geojson crs link, late": Case(geojson("late.geojson", {"type": "link", "properties": {
            "href": f"{url}/late", "type": "ogcwkt"}}, padding=12_000)),
        "geojson crs name /vsicurl/": Case(geojson("vsi.geojson", {"type": "name", "properties": {
            "name": f"/vsicurl/{url}/name"}})),
        "geojson crs name path": Case(geojson("path.geojson", {"type": "name", "properties": {
            "name": str(outside / "secret.prj")}})),
        "gml xlink and schemaLocation": Case(write("links.gml", gml.replace("SRS", "EPSG:4326"))),
        "gml schemaLocation ../outside": Case(write("relative.gml", gml.replace(
            f"{url}/schema.xsd", "../outside/secret.xsd").replace("SRS", "EPSG:4326"))),
        "gml srsName URL": Case(write("srs.gml", gml.replace("SRS", f"{url}/srs")), MissingCRS, "no coordinate"),
        "gml srsName /vsicurl/": Case(write("vsisrs.gml", gml.replace("SRS", f"/vsicurl/{url}/srs")), MissingCRS),
        "kml NetworkLink": Case(write("net.kml", kml)),
        "kmz NetworkLink": Case(zipped(up / "net.kmz", {"doc.kml": kml.encode()})),
        "OGR VRT named .geojson": Case(write("vrt.geojson", ogr_vrt), UnsupportedFormat,
                                       "OGRVRTDataSource files are not accepted"),
        "OGR VRT named .gml in a zip": Case(zipped(up / "vrt.zip", {"a.gml": ogr_vrt.encode()}), UnsupportedFormat),
        "WFS descriptor": Case(write("wfs.gml", f"<OGRWFSDataSource><URL>{url}/wfs</URL></OGRWFSDataSource>"),
                               UnsupportedFormat, "OGRWFSDataSource"),
        "GDALG pipeline": Case(write("alg.geojson", json.dumps({
            "type": "gdal_streamed_alg",
            "command_line": f"gdal vector pipeline ! read {outside}/secret.csv ! write --of stream streamed_dataset",
        })), UnsupportedFormat, "GDAL pipeline"),
        "JSON-FG coordRefSys URL": Case(write("fg.json", json.dumps({
            "type": "FeatureCollection", "conformsTo": ["[ogc-json-fg-1-0.2:core]"], "coordRefSys": f"{url}/fg",
            "features": [POINT | {"time": None, "place": None}]})), MissingCRS),
        "VRT to /vsicurl/ named .tif": Case(write("vrt.tif", vrt), UnsupportedFormat, "VRTDataset files"),
        "VRT named .tif in a zip": Case(zipped(up / "vrt-tif.zip", {"a.tif": vrt.encode()}), UnsupportedFormat),
        "WMS descriptor named .tif": Case(write("wms.tif", f"<GDAL_WMS><Service name='TMS'><ServerUrl>{url}/t"
                                                           "</ServerUrl></Service></GDAL_WMS>"), UnsupportedFormat),
        "GeoTIFF with .aux.xml and .ovr": Case(image),
        "GeoTIFF with .aux.xml and .ovr in a zip": Case(zipped(up / "sidecars.zip", {
            p.name: p for p in sidecars.iterdir()})),
        # the sidecar's SRS replaces the file's own; a URL is not followed, so there is none
        "GeoTIFF with an .aux.xml SRS URL": Case(zipped(up / "pam.zip", {p.name: p for p in pam.iterdir()}),
                                                 MissingCRS),
        "Shapefile .prj URL": Case(zipped(up / "shp.zip", {p.name: p for p in shp.iterdir()}), MissingCRS),
        "Shapefile .prj naming a grid file": Case(zipped(up / "grid.zip", {p.name: p for p in grid.iterdir()}),
                                                  InvalidInput),
        "crs parameter naming an init file": Case(geojson("init.geojson", None), InvalidInput, "names a file",
                                                  crs=f"+init={outside}/secret.prj:1"),
        "crs parameter naming a grid URL": Case(geojson("grid.geojson", None), InvalidInput, "names a file",
                                                crs=f"+proj=longlat +datum=WGS84 +nadgrids={url}/g.tif +type=crs"),
        "SQLite VirtualOGR table": Case(virtual, UnsupportedFormat, "cannot be read"),
        "zip with a symlink to /etc/passwd": Case(up / "symlink.zip", UnsafeArchive, "symbolic link"),
        "HDF5 with external storage": Case(up / "external.h5", UnsupportedFormat, "read from another file"),
        "netCDF-4 with an external link": Case(up / "linked.nc", UnsupportedFormat, "read from another file"),
        "HDF5 virtual dataset": Case(up / "virtual.h5", UnsupportedFormat, "read from another file"),
    }


@pytest.fixture
def listener() -> Iterator[Listener]:
    live = Listener()
    yield live
    live.close()


def test_inputs_reach_nothing_outside(site: Site, tmp_path: Path, listener: Listener) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text(f"x,y,name\n1,2,{SECRET}\n")
    (outside / "secret.prj").write_text('GEOGCS["outside",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.2572'
                                        '23563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]')
    tif(outside / "secret.tif")
    (outside / "secret.xsd").write_text('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
                                        'xmlns:ogr="http://ogr.maptools.org/" targetNamespace="http://ogr.maptools.org/">'
                                        '<xs:element name="t"/></xs:schema>')
    (outside / "secret.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        POINT | {"properties": {"name": SECRET}}]}))
    up = tmp_path / "upload"
    up.mkdir()
    crafted = cases(up, listener.url, outside)
    opens = Opens(outside)
    problems = []
    try:
        for name, case in crafted.items():
            before = store_state(site)
            try:
                outcomes = publish_file(site, case.path, crs=case.crs)
                result: object = [o.error or o.dataset for o in outcomes]
            except Exception as exc:  # anything but a KartennError is a problem below
                result = exc
            if listener.seen():
                problems.append(f"{name}: the server asked {listener.seen()}")
            if (seen := opens.seen()):
                problems.append(f"{name}: a file outside the upload was read: {seen}")
            listener.paths.clear()
            listener.connections = 0
            if case.refused:
                if not isinstance(result, case.refused) or case.says not in str(result):
                    problems.append(f"{name}: expected {case.refused.__name__} ({case.says}), got {result!r}")
                elif str(up) in str(result) or store_state(site) != before:
                    problems.append(f"{name}: {result} shows a server path or left something behind")
                continue
            if not isinstance(result, list) or not all(hasattr(d, "id") for d in result):
                problems.append(f"{name}: expected a publication, got {result!r}")
                continue
            for ds in result:
                if ds.kind == "vector":
                    rows = stored_rows(site, ds.storage)
                    if ds.crs != "EPSG:4326" or SECRET in str(rows.to_pylist()):
                        problems.append(f"{name}: published {ds.crs} {rows.to_pylist()}")
                elif ds.crs != "EPSG:4326":
                    problems.append(f"{name}: published a raster in {ds.crs}")
    finally:
        opens.close()
    assert not problems, "\n".join(problems)
    # GDAL's offline options are undone once reading ends
    assert pyogrio.get_gdal_config_option("GDAL_HTTP_PROXY") is None


def test_record_imports_reach_nothing_outside(site: Site, tmp_path: Path, listener: Listener) -> None:
    """Metadata records (XML, and a MEF zip) with an outside DTD, schema locations and xlinks on the listener."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "record.dtd").write_text("<!ENTITY secret 'TOPSECRET'>")
    original = shared("iso-metadata-records/pycsw-apiso/3e9a8c05.xml").read_text(encoding="utf-8")
    url = listener.url
    text = original.replace("http://schemas.opengis.net/iso/19139/20060504/srv/srv.xsd", f"{url}/srv.xsd")
    doctype = f'<!DOCTYPE gmd:MD_Metadata SYSTEM "{outside}/record.dtd">'
    text = text.replace('<?xml version="1.0" encoding="UTF-8"?>', f'<?xml version="1.0" encoding="UTF-8"?>{doctype}')
    text = text.replace("<gmd:fileIdentifier>", f'<gmd:fileIdentifier xlink:href="{url}/id">')
    assert text.count(url) == 2
    mef = zipped(tmp_path / "record.zip", {"3e9a8c05/metadata/metadata.xml": text.encode()})
    opens = Opens(outside)
    try:
        found = import_bytes(site.seen_by(OPERATOR), text.encode())
        report = import_paths(site.seen_by(OPERATOR), [mef])
        assert not opens.seen()
    finally:
        opens.close()
    assert [r.id for r in found] == ["3e9a8c05"] and not report.errors
    assert site.catalog.get_record("3e9a8c05").title
    assert not listener.seen()
