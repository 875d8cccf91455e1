"""The OWS layer WMS, WMTS, WFS and CSW share: KVP parameters, version negotiation, exception reports."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from lxml import etree

from kartenn.app import create_app
from kartenn.web.ows import common
from kartenn.web.ows.common import OWSError

OWS11 = "{http://www.opengis.net/ows/1.1}"
OWS10 = "{http://www.opengis.net/ows}"
OGC = "{http://www.opengis.net/ogc}"


def test_kvp_names_are_case_insensitive_and_required_values_say_which_is_missing() -> None:
    params = common.kvp([("SERVICE", "WMS"), ("Request", "GetMap"), ("width", "")])
    assert params == {"service": "WMS", "request": "GetMap", "width": ""}
    assert common.required(params, "request") == "GetMap"
    for name in ("width", "height"):
        with pytest.raises(OWSError) as caught:
            common.required(params, name)
        assert (caught.value.code, caught.value.locator, caught.value.status) == ("MissingParameterValue", name, 400)


def test_integers_are_checked_against_their_range() -> None:
    params = {"width": "300", "height": "abc", "i": "-1"}
    assert common.integer(params, "width", low=1, high=4096) == 300
    assert common.integer(params, "count", default=7) == 7
    for name, kwargs in (("width", {"high": 256}), ("height", {}), ("i", {"low": 0}), ("j", {})):
        with pytest.raises(OWSError) as caught:
            common.integer(params, name, **kwargs)
        expected = "MissingParameterValue" if name == "j" else "InvalidParameterValue"
        assert (caught.value.code, caught.value.locator) == (expected, name)


def test_version_negotiation_takes_the_first_version_served() -> None:
    served = [("2.0", "2.0.0"), ("1.", "1.1.0")]
    assert common.negotiate("3.0.0, 1.1.0, 2.0.0", served) == "1.1.0"
    assert common.negotiate([None, " 2.0.2 "], served) == "2.0.0"
    assert common.negotiate("3.0.0", served) is None
    assert common.negotiate(None, served) is None
    failed = common.version_failed("3.0.0", ["2.0.0", "1.1.0"])
    assert (failed.code, failed.locator) == ("VersionNegotiationFailed", "AcceptVersions")


@pytest.mark.parametrize(("form", "root", "exception", "version", "media"), [
    (common.WMS_130, f"{OGC}ServiceExceptionReport", f"{OGC}ServiceException", "1.3.0", "text/xml"),
    (common.WMS_111, "ServiceExceptionReport", "ServiceException", "1.1.1", "application/vnd.ogc.se_xml"),
    (common.WMTS, f"{OWS11}ExceptionReport", f"{OWS11}Exception", "1.0.0", "application/xml"),
    (common.WFS_20, f"{OWS11}ExceptionReport", f"{OWS11}Exception", "2.0.0", "application/xml"),
    (common.WFS_11, f"{OWS10}ExceptionReport", f"{OWS10}Exception", "1.0.0", "application/xml"),
    (common.CSW, f"{OWS10}ExceptionReport", f"{OWS10}Exception", "1.2.0", "application/xml; charset=UTF-8"),
])
def test_each_service_gets_its_own_report_form(form, root, exception, version, media) -> None:
    response = common.report_response(OWSError("LayerNotDefined", "no layer 'a\x01b'", "layers", 404), form)
    assert (response.status_code, response.media_type) == (404, media)
    doc = etree.fromstring(response.body)
    assert (doc.tag, doc.get("version")) == (root, version)
    node = doc[0]
    assert node.tag == exception and node.get("locator") == "layers"
    if form.wms:
        assert node.get("code") == "LayerNotDefined" and node.text == "no layer 'a\ufffdb'"
    else:
        assert node.get("exceptionCode") == "LayerNotDefined"
        assert node[0].text == "no layer 'a\ufffdb'"


@pytest.mark.parametrize(("path", "params", "status", "media", "root", "code"), [
    ("/wms", {"service": "WMS", "version": "1.3.0", "request": "GetMap", "layers": "nowhere", "styles": "",
              "crs": "EPSG:4326", "bbox": "0,0,1,1", "width": "1", "height": "1"},
     400, "text/xml; charset=utf-8", f"{OGC}ServiceExceptionReport", "LayerNotDefined"),
    ("/wms", {"service": "WMS", "version": "1.1.1", "request": "GetMap"},
     400, "application/vnd.ogc.se_xml", "ServiceExceptionReport", "MissingParameterValue"),
    ("/ows", {"service": "WMS", "version": "1.3.0", "request": "Draw"},
     400, "text/xml; charset=utf-8", f"{OGC}ServiceExceptionReport", "OperationNotSupported"),
    ("/wmts", {"service": "WMTS", "request": "GetTile", "version": "1.0.0", "layer": "nowhere"},
     404, "application/xml", f"{OWS11}ExceptionReport", "LayerNotDefined"),
    ("/wmts", {"service": "WMTS", "request": "Draw"}, 501, "application/xml", f"{OWS11}ExceptionReport",
     "OperationNotSupported"),
    ("/wfs", {"service": "WFS", "version": "2.0.0", "request": "GetFeature", "typeNames": "nowhere"},
     400, "application/xml", f"{OWS11}ExceptionReport", "InvalidParameterValue"),
    ("/wfs", {"service": "WFS", "version": "1.1.0", "request": "GetFeature", "typeName": "x", "maxFeatures": "-1"},
     400, "application/xml", f"{OWS10}ExceptionReport", "InvalidParameterValue"),
    ("/ows", {"service": "WFS", "request": "GetCapabilities", "AcceptVersions": "3.0.0"},
     400, "application/xml", f"{OWS11}ExceptionReport", "VersionNegotiationFailed"),
    ("/csw", {"service": "CSW", "version": "2.0.2", "request": "GetRecords", "maxRecords": "many"},
     400, "application/xml; charset=UTF-8", f"{OWS10}ExceptionReport", "InvalidParameterValue"),
    ("/csw", {"service": "CSW", "request": "GetCapabilities", "acceptVersions": "3.0.0"},
     400, "application/xml; charset=UTF-8", f"{OWS10}ExceptionReport", "VersionNegotiationFailed"),
    ("/ows", {"service": "WPS", "request": "GetCapabilities"},
     400, "application/xml", f"{OWS11}ExceptionReport", "InvalidParameterValue"),
])
def test_bad_requests_get_their_service_report(site, settings, path, params, status, media, root, code) -> None:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.get(path, params=params)
    assert (response.status_code, response.headers["content-type"]) == (status, media), response.text
    doc = etree.fromstring(response.content)
    assert doc.tag == root
    assert doc[0].get("code", doc[0].get("exceptionCode")) == code
