"""The source of ``kartenn sync``: another Kartenn site, read through its public HTTP APIs with one of its API
tokens. Every answer is bounded in size and time, so a slow or hostile source can neither hang a sync nor fill
the disk; anything but the expected answer is one SourceError with a clear message.

>>> with SourceSite("https://test.example.org", token) as source:   # doctest: +SKIP
...     [d["id"] for d in source.datasets()]
['regions', 'lakes']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from kartenn.errors import InvalidInput, KartennError, NotFound, TooLarge

TIMEOUT = httpx.Timeout(60.0, connect=10.0)  # per network operation: a stalled download fails, a long one goes on
MAX_JSON = 20 * 1024**2
MAX_XML = 50 * 1024**2  # what the records API takes in one document
PAGE = 1000
MAX_STYLES = 500


class SourceError(KartennError):
    """The source cannot be read: unreachable, too slow, refusing the token, or not a Kartenn site."""

    status = 502
    code = "SourceError"


class SourceForbids(SourceError):
    """The token may not read that (403)."""


@dataclass(frozen=True)
class SourceSharing:
    """Who owns a dataset at the source, whether everyone may see it, and its grants as (principal, id, action),
    sorted. ``known`` is False when the token may not read the dataset's grants: ``public`` was then probed
    without the token, and the organisation and grants are unknown."""

    org: str | None
    public: bool
    known: bool = True
    grants: tuple[tuple[str, str, str], ...] = ()


class SourceSite:
    def __init__(self, url: str, token: str, *, timeout: httpx.Timeout = TIMEOUT) -> None:
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            raise InvalidInput(f"not a URL: {url!r}") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise InvalidInput(f"the source must be an http:// or https:// URL, not {url!r}")
        self.url = str(parsed).rstrip("/")
        # No redirects: the token goes to the address given, nowhere else.
        self._http = httpx.Client(base_url=self.url, timeout=timeout, follow_redirects=False,
                                  headers={"Authorization": f"Bearer {token}"})
        self._anonymous = httpx.Client(base_url=self.url, timeout=timeout, follow_redirects=False)

    def __enter__(self) -> SourceSite:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()
        self._anonymous.close()

    # what the source has ------------------------------------------------------------------------------

    def datasets(self) -> list[dict[str, Any]]:
        """Every dataset the token may see, as the datasets API lists them."""
        found: list[dict[str, Any]] = []
        while True:
            page = self._json(f"/api/v1/datasets?limit={PAGE}&offset={len(found)}")
            items = page.get("datasets") if isinstance(page, dict) else None
            if not isinstance(items, list) or not all(isinstance(d, dict) and isinstance(d.get("id"), str)
                                                      for d in items):
                raise SourceError(f"{self.url} is not a Kartenn site: /api/v1/datasets lists no datasets")
            known = {d["id"] for d in found}
            found += [d for d in items if d["id"] not in known]
            if len(items) < PAGE or len(found) == len(known):  # the last page, or a source that pages forever
                return found

    def dataset(self, dataset_id: str) -> dict[str, Any]:
        """A dataset with the summary of its record."""
        data = self._json(f"/api/v1/datasets/{quote(dataset_id, safe='')}", what=f"dataset {dataset_id!r}")
        if not (isinstance(data, dict) and data.get("id") == dataset_id and isinstance(data.get("record"), dict)
                and isinstance(data["record"].get("id"), str) and data.get("kind") in ("vector", "raster")):
            raise SourceError(f"{self.url} is not a Kartenn site: dataset {dataset_id!r} came back malformed")
        return data

    def record(self, record_id: str) -> tuple[dict[str, Any], str]:
        """The record as JSON, and its entity tag (it changes with every write of the record)."""
        path = f"/api/v1/records/{quote(record_id, safe='')}"
        body, headers = self._get(path, MAX_JSON, what=f"record {record_id!r}")
        return self._parse(body, path), headers.get("etag", "")

    def record_document(self, record_id: str, schema: str) -> bytes:
        """The record as an XML document of ``schema`` (iso19139 or iso19115-3)."""
        return self._get(f"/api/v1/records/{quote(record_id, safe='')}/{schema}.xml", MAX_XML,
                         what=f"record {record_id!r}")[0]

    def styles(self, dataset_id: str, max_bytes: int) -> tuple[str, dict[str, bytes]]:
        """The name of the default style, and every style as the JSON model, by name."""
        path = f"/api/v1/datasets/{quote(dataset_id, safe='')}/styles"
        listing = self._json(path, what=f"styles of {dataset_id!r}")
        if not isinstance(listing, dict) or not isinstance(listing.get("styles"), list):
            raise SourceError(f"{self.url} is not a Kartenn site: {path} lists no styles")
        if len(listing["styles"]) > MAX_STYLES:
            raise SourceError(f"{self.url} lists {len(listing['styles'])} styles of {dataset_id!r}: at most "
                              f"{MAX_STYLES} are copied")
        found = {}
        for style in listing["styles"]:
            name = str(style.get("name", "")) if isinstance(style, dict) else ""
            found[name] = self._get(f"{path}/{quote(name, safe='')}?f=json", max_bytes,
                                    what=f"style {name!r} of {dataset_id!r}")[0]
        return str(listing.get("default") or "default"), found

    def sharing(self, dataset_id: str) -> SourceSharing:
        """The dataset's owning organisation and public access, from its grants (its publishers may read them);
        for other tokens, whether an anonymous caller sees it."""
        path = f"/api/v1/datasets/{quote(dataset_id, safe='')}"
        try:
            data = self._json(f"{path}/grants", what=f"grants of {dataset_id!r}")
        except SourceForbids:
            probe = self._request(self._anonymous, path)
            return SourceSharing(org=None, public=probe.status_code == 200, known=False)
        owner = data.get("owner") or {} if isinstance(data, dict) else {}
        grants = data.get("grants") if isinstance(data, dict) else None
        if not isinstance(grants, list):
            raise SourceError(f"{self.url} is not a Kartenn site: the grants of {dataset_id!r} came back malformed")
        if not all(isinstance(g, dict) and g.get("principal") in ("public", "org", "user")
                   and isinstance(g.get("id", ""), str) and isinstance(g.get("action"), str) for g in grants):
            raise SourceError(f"{self.url} is not a Kartenn site: the grants of {dataset_id!r} came back malformed")
        found = tuple(sorted({(g["principal"], g.get("id") or "", g["action"]) for g in grants}))
        return SourceSharing(org=owner.get("org_id") if isinstance(owner, dict) else None,
                             public=("public", "", "view") in found, grants=found)

    def organisation_name(self, org_id: str) -> str | None:
        """The organisation's full name, for tokens of administrators (None for others)."""
        try:
            data = self._json("/api/v1/organisations")
        except SourceError:
            return None
        for org in data.get("organisations", []) if isinstance(data, dict) else []:
            if isinstance(org, dict) and org.get("id") == org_id:
                return str(org.get("name") or org_id)
        return None

    def download(self, dataset_id: str, kind: str, folder: Path, max_bytes: int) -> Path:
        """Every feature of a vector dataset as a GeoPackage in its own CRS, or a raster's Cloud Optimized
        GeoTIFF as published, written in ``folder``."""
        fmt = "tiff" if kind == "raster" else "gpkg"
        target = folder / f"{dataset_id}.{'tif' if kind == 'raster' else 'gpkg'}"
        path = f"/ogc/collections/{quote(dataset_id, safe='')}/download?f={fmt}"
        with target.open("wb") as out:
            self._get(path, max_bytes, what=f"data of {dataset_id!r}", into=out)
        return target

    # HTTP ---------------------------------------------------------------------------------------------

    def _json(self, path: str, what: str | None = None) -> Any:
        return self._parse(self._get(path, MAX_JSON, what=what)[0], path)

    def _parse(self, body: bytes, path: str) -> Any:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            raise SourceError(f"{self.url} is not a Kartenn site: {path.split('?')[0]} did not answer JSON") from None

    def _get(self, path: str, max_bytes: int, *, what: str | None = None, into: Any = None
             ) -> tuple[bytes, httpx.Headers]:
        """GET ``path`` with the token: its body (at most ``max_bytes``; empty when written to ``into``) and
        headers."""
        try:
            with self._http.stream("GET", path) as response:
                if response.status_code != 200:
                    response.read()
                    raise self._refusal(response, path, what)
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise TooLarge(f"{what or path} at {self.url}: {declared} bytes, over the {max_bytes} bytes "
                                   "allowed")
                size, chunks = 0, []
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(f"{what or path} at {self.url}: over the {max_bytes} bytes allowed")
                    if into is not None:
                        into.write(chunk)
                    else:
                        chunks.append(chunk)
                return b"".join(chunks), response.headers
        except httpx.TimeoutException:
            raise SourceError(f"{self.url} did not answer in time ({path})") from None
        except httpx.HTTPError as exc:
            raise SourceError(f"cannot read {self.url}{path}: {exc}") from None

    def _request(self, client: httpx.Client, path: str) -> httpx.Response:
        try:
            return client.get(path)
        except httpx.TimeoutException:
            raise SourceError(f"{self.url} did not answer in time ({path})") from None
        except httpx.HTTPError as exc:
            raise SourceError(f"cannot read {self.url}{path}: {exc}") from None

    def _refusal(self, response: httpx.Response, path: str, what: str | None) -> KartennError:
        status = response.status_code
        detail = ""
        if response.headers.get("content-type", "").startswith(("application/problem+json", "application/json")):
            try:
                body = orjson.loads(response.content[:65536])
                detail = str(body.get("detail") or "") if isinstance(body, dict) else ""
            except orjson.JSONDecodeError:
                detail = ""
        if status == 401:
            return SourceError(f"{self.url} refused the token (401 Unauthorized{': ' + detail if detail else ''}); "
                               "give an API token of the source with --token")
        if status == 403:
            return SourceForbids(f"the token may not read {what or path} at {self.url} (403 Forbidden)")
        if status == 404 and what and detail:  # a Kartenn's own 404: that thing is not there (or not for us)
            return NotFound(f"{what}: not found at {self.url} (or not visible to the token)")
        if status == 404:
            return SourceError(f"{self.url} is not a Kartenn site: {path} is not found there")
        if 300 <= status < 400:
            return SourceError(f"{self.url}{path} redirects to {response.headers.get('location', '?')}: give "
                               "--from the address it redirects to")
        return SourceError(f"{self.url}{path} answered {status}{': ' + detail if detail else ''}")
