"""A small closed-loop HTTP load generator: N workers fetch a list of URLs round-robin for a fixed time.

Usage: python load.py --concurrency 8 --seconds 15 URL [URL ...]   (or --urls-file FILE)
Prints one JSON line: requests, errors, req_per_s, p50_ms, p95_ms, p99_ms, bytes.
Only for servers on this machine (127.0.0.1); every loop is bounded in time.
"""
import argparse
import asyncio
import json
import statistics
import time

import httpx


async def worker(client, urls, offset, deadline, lat, counts):
    i = offset
    while time.perf_counter() < deadline:
        url = urls[i % len(urls)]
        i += 1
        t0 = time.perf_counter()
        try:
            r = await client.get(url)
            body = r.content
            ok = r.status_code < 400
        except httpx.HTTPError:
            ok, body = False, b""
        lat.append((time.perf_counter() - t0) * 1000)
        counts["bytes"] += len(body)
        counts["ok" if ok else "err"] += 1


async def main(a):
    urls = list(a.urls)
    if a.urls_file:
        urls += [u.strip() for u in open(a.urls_file) if u.strip()]
    if not urls:
        raise SystemExit("no URLs")
    if any(not (u.startswith("http://127.") or u.startswith("http://localhost")) for u in urls):
        raise SystemExit("only loopback targets")
    lat, counts = [], {"ok": 0, "err": 0, "bytes": 0}
    limits = httpx.Limits(max_connections=a.concurrency, max_keepalive_connections=a.concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        await asyncio.gather(*(client.get(urls[0]) for _ in range(a.concurrency)), return_exceptions=True)  # warm-up
        start = time.perf_counter()
        deadline = start + a.seconds
        await asyncio.gather(*(worker(client, urls, k, deadline, lat, counts) for k in range(a.concurrency)))
        elapsed = time.perf_counter() - start
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [lat[0]] * 99
    print(json.dumps({"requests": counts["ok"], "errors": counts["err"], "req_per_s": round(counts["ok"] / elapsed, 1),
                      "p50_ms": round(q[49], 2), "p95_ms": round(q[94], 2), "p99_ms": round(q[98], 2),
                      "bytes": counts["bytes"]}))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("urls", nargs="*")
    p.add_argument("--urls-file")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--seconds", type=float, default=10)
    asyncio.run(main(p.parse_args()))
