"""HTTP requests to harvest sources, safe against a source that points us at the inside of our own network.

Each hop (redirects are followed here, not by the client) is resolved once and every address it resolves to is
checked: loopback, private, link-local (cloud metadata services among them), multicast and reserved addresses
are refused unless the setting ``harvest_allow`` lists the host name or a network holding the address. The
request then goes to the address that was checked (the host name is sent as Host and as TLS server name), so a
second DNS answer cannot swap it. Answers are read in chunks and cut at ``harvest_max_bytes``; every network
operation has ``harvest_timeout``.

>>> Fetcher(["10.1.0.0/16"], timeout=30, max_bytes=10_000_000).get("https://csw.example.org/csw", {"service": "CSW"})
... # doctest: +SKIP
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from urllib.parse import urlencode

import certifi
import httpx

from kartenn.errors import KartennError

MAX_REDIRECTS = 5
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SourceError(KartennError):
    """The source cannot be read: refused address, unreachable, too slow, too large, or not what it should be."""

    status = 502
    code = "SourceError"


class Fetcher:
    def __init__(self, allow: list[str], *, timeout: float, max_bytes: int, max_seconds: float | None = None,
                 ca_file: str | None = None) -> None:
        self.networks: list[Network] = []
        self.hosts: set[str] = set()
        for entry in allow:
            try:
                self.networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                self.hosts.add(entry.strip().lower().rstrip("."))
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self.deadline = time.monotonic() + max_seconds if max_seconds is not None else None
        verify = ssl.create_default_context(cafile=certifi.where())
        if ca_file:
            verify.load_verify_locations(cafile=ca_file)
        self._http = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                                  follow_redirects=False, trust_env=False, verify=verify)

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def get(self, url: str, params: dict[str, str] | None = None, *, accept: str = "*/*") -> bytes:
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
        return self._send("GET", url, None, accept)

    def post(self, url: str, body: bytes, content_type: str, *, accept: str = "*/*") -> bytes:
        return self._send("POST", url, (body, content_type), accept)

    # --------------------------------------------------------------------------------------------------

    def _send(self, method: str, url: str, body: tuple[bytes, str] | None, accept: str) -> bytes:
        for _ in range(MAX_REDIRECTS + 1):
            self._in_time()
            target = _url(url)
            address = self.checked_address(target)
            headers = {"Host": target.netloc.decode("ascii"), "Accept": accept,
                       "User-Agent": "Kartenn harvester"}
            if body is not None:
                headers["Content-Type"] = body[1]
            pinned = target.copy_with(host=str(address))
            request = self._http.build_request(method, pinned, headers=headers,
                                               content=body[0] if body is not None else None,
                                               extensions={"sni_hostname": target.host})
            try:
                response = self._http.send(request, stream=True)
            except httpx.TimeoutException:
                raise SourceError(f"{_shown(target)} did not answer in time") from None
            except httpx.HTTPError as exc:
                raise SourceError(f"cannot read {_shown(target)}: {exc}") from None
            try:
                if response.status_code in (301, 302, 303, 307, 308) and "location" in response.headers:
                    url = str(target.join(response.headers["location"]))
                    if response.status_code in (301, 302, 303):
                        method, body = "GET", None
                    continue
                if response.status_code != 200:
                    raise SourceError(f"{_shown(target)} answered {response.status_code}")
                return self._read(response, target)
            finally:
                response.close()
        raise SourceError(f"{url}: more than {MAX_REDIRECTS} redirects")

    def _read(self, response: httpx.Response, target: httpx.URL) -> bytes:
        declared = response.headers.get("content-length", "")
        too_large = f"{_shown(target)}: the answer is over the {self.max_bytes} bytes allowed (harvest_max_bytes)"
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise SourceError(too_large)
        size, chunks = 0, []
        try:
            for chunk in response.iter_bytes():
                self._in_time()
                size += len(chunk)
                if size > self.max_bytes:
                    raise SourceError(too_large)
                chunks.append(chunk)
        except httpx.TimeoutException:
            raise SourceError(f"{_shown(target)} did not answer in time") from None
        except httpx.HTTPError as exc:
            raise SourceError(f"cannot read {_shown(target)}: {exc}") from None
        return b"".join(chunks)

    def _in_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise SourceError(f"the harvest took longer than the {self.max_seconds} s allowed (harvest_max_seconds)")

    def checked_address(self, url: httpx.URL) -> Address:
        """The address to connect to for ``url``: every address its host resolves to must be allowed."""
        host = url.host.lower().rstrip(".")
        try:
            infos = socket.getaddrinfo(host, url.port or (443 if url.scheme == "https" else 80),
                                       type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            raise SourceError(f"{_shown(url)}: the host name {host!r} does not resolve") from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))
        if not addresses:
            raise SourceError(f"{_shown(url)}: the host name {host!r} does not resolve")
        for address in addresses:
            if not self.allowed(host, address):
                raise SourceError(f"{_shown(url)}: {host} resolves to {address}, a loopback, private, link-local or "
                                  "reserved address; list it in harvest_allow to harvest it")
        return addresses[0]

    def allowed(self, host: str, address: Address) -> bool:
        if host in self.hosts or any(address in net for net in self.networks):
            return True
        mapped = getattr(address, "ipv4_mapped", None) or address
        return not (mapped.is_private or mapped.is_loopback or mapped.is_link_local or mapped.is_multicast
                    or mapped.is_reserved or mapped.is_unspecified or not mapped.is_global)


def _url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise SourceError(f"not a URL: {url!r}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise SourceError(f"a source must be an http:// or https:// URL, not {url!r}")
    if parsed.userinfo:
        raise SourceError("a source URL may not hold a user name or password")
    return parsed


def _shown(url: httpx.URL) -> str:
    return str(url.copy_with(query=None))


def check_url(url: str) -> str:
    """``url`` if it can be a source's address (http or https, a host, no credentials); SourceError otherwise."""
    return str(_url(url))
