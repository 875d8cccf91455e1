"""How soon does ``kartenn serve`` answer ``/healthz`` after it starts?

Starts the server on a fresh site (and on the demo site when there is one) several times, polls ``/healthz``
every 10 ms from the moment the process is launched, and reports the median and the slowest time to the first
200, with the machine's load average at the start of the run.

    .venv/bin/python bench/startup.py [--runs 7]

Writes bench/results/startup.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def time_to_health(data_dir: Path) -> float:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KARTENN_")}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "kartenn.cli", "serve", "--data-dir", str(data_dir),
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server stopped (exit {proc.returncode})")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return time.perf_counter() - start
            except httpx.HTTPError:
                pass
            if time.perf_counter() - start > 60:
                raise RuntimeError("no answer within 60 s")
            time.sleep(0.01)
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "site"
        subprocess.run([sys.executable, "-m", "kartenn.cli", "init", str(fresh)], check=True,
                       capture_output=True)
        sites = {"fresh site": fresh}
        if (ROOT / "demo-site" / "kartenn.toml").exists():
            sites["demo site"] = ROOT / "demo-site"
        for name, path in sites.items():
            time_to_health(path)  # the first start warms the disk cache and compiles bytecode
            times = [time_to_health(path) for _ in range(args.runs)]
            results[name] = {"median_s": round(statistics.median(times), 3), "max_s": round(max(times), 3),
                             "runs": args.runs}
            print(f"{name}: median {results[name]['median_s']} s, slowest {results[name]['max_s']} s")
    RESULTS.mkdir(parents=True, exist_ok=True)
    record = {"load_average_1min": round(load, 2), "cores": os.cpu_count(), "results": results}
    (RESULTS / "startup.json").write_text(json.dumps(record, indent=2) + "\n")
    lines = ["# Time from `kartenn serve` to its first /healthz answer", "",
             f"{os.cpu_count()} cores, 1-minute load average {load:.2f} at the start; "
             f"{args.runs} runs each after one warm-up start.", "",
             "| site | median | slowest |", "|---|---|---|"]
    lines += [f"| {name} | {r['median_s']} s | {r['max_s']} s |" for name, r in results.items()]
    (RESULTS / "startup.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
