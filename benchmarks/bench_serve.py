"""``drgkit serve`` under load, against a real server process on 127.0.0.1, with baselines measured in the same
run on the same cases:

* single-case ``POST /v1/group`` from C concurrent keep-alive clients (default 50): requests/s, client-side
  latency p50/p99, and server-side latency p50/p99 (from ``/v1/metrics``: time inside the server) — against
  ``drgkit.group`` called directly on one case at a time (one process, no HTTP);
* batched ``POST /v1/group`` (arrays of B cases): cases/s — against ``drgkit.group`` on the same cases as one table;
* ``POST /v1/batch`` (a Parquet upload of R rows, grouped file back): rows/s — against ``drgkit group FILE -o OUT``
  (the command line, a process of its own) on the same file;
* the server's memory (RSS) before and after, and optionally a soak (``--soak SECONDS`` of single-case load,
  RSS sampled every 10 s).

Bounded: a fixed number of requests, then the server is stopped.  Run from the repository:
``python benchmarks/bench_serve.py [--requests 4000] [--clients 50] [--batch 1000] [--rows 200000] [--soak 0]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import drgkit
import drgkit.io
from drgkit.demo import generate

KEEP = ["case_id", "gender", "age", "age_days", "birth_weight", "los", "leaving_type", "dx", "px"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(port: int, scheme: str, workers: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "drgkit.cli",
            "serve",
            "--port",
            str(port),
            "--scheme",
            scheme,
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start in 120 s")


def cases_of(table: pa.Table) -> list[dict]:
    return [
        {k: (int(v) if isinstance(v, float) and v == v else v) for k, v in row.items()} for row in table.to_pylist()
    ]


async def single_load(base: str, cases: list[dict], requests: int, clients: int) -> tuple[float, np.ndarray]:
    """``requests`` single-case calls from ``clients`` keep-alive connections; a minimal HTTP/1.1 client on
    asyncio streams, so that the load generator (on the same cores) costs the server as little as it can."""
    import json

    host, port = base.split("//")[1].split(":")
    bodies = [json.dumps(c, ensure_ascii=False).encode() for c in cases]
    requests_ = [
        b"POST /v1/group HTTP/1.1\r\nHost: " + host.encode() + b"\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(b)).encode() + b"\r\n\r\n" + b
        for b in bodies
    ]
    latencies: list[float] = []
    counter = iter(range(requests))

    async def call(reader, writer, i: int) -> None:
        writer.write(requests_[i % len(requests_)])
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(
            int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
        )
        body = await reader.readexactly(length)
        if status != 200:
            raise SystemExit(f"HTTP {status}: {body[:200]!r}")

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        await call(reader, writer, 0)
        await ready.wait()
        for i in counter:
            t = time.perf_counter()
            await call(reader, writer, i)
            latencies.append(time.perf_counter() - t)
        writer.close()

    ready = asyncio.Event()
    tasks = [asyncio.create_task(client()) for _ in range(clients)]
    await asyncio.sleep(0.5)
    start = time.perf_counter()
    ready.set()
    await asyncio.gather(*tasks)
    seconds = time.perf_counter() - start
    return requests / seconds, np.array(latencies)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=4000, help="single-case requests under load")
    ap.add_argument("--clients", type=int, default=50, help="concurrent clients")
    ap.add_argument("--batch", type=int, default=1000, help="cases per batched /v1/group call")
    ap.add_argument("--batches", type=int, default=10, help="batched calls")
    ap.add_argument("--rows", type=int, default=200_000, help="rows of the /v1/batch upload")
    ap.add_argument("--scheme", default="chs-drg-1.1")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--soak", type=float, default=0, help="seconds of single-case load after the measurements")
    args = ap.parse_args()
    import httpx

    table = generate(max(args.batch * args.batches, 2000), scheme=args.scheme, seed=11)
    table = table.select([c for c in KEEP if c in table.column_names])
    cases = cases_of(table)
    print(
        f"drgkit serve benchmark: {os.cpu_count()} cores, scheme {args.scheme}, {args.workers} worker(s); "
        f"load average before: {os.getloadavg()[0]:.2f}"
    )

    # baselines in this process: drgkit.group on one case at a time, and on the whole table
    drgkit.group(table.slice(0, 10), scheme=args.scheme)
    one = [table.slice(i, 1) for i in range(500)]
    t = time.perf_counter()
    for single in one:
        drgkit.group(single, scheme=args.scheme, threads=1)  # threads=1: the fastest for one case
    direct_single = len(one) / (time.perf_counter() - t)
    t = time.perf_counter()
    drgkit.group(table, scheme=args.scheme)
    direct_batch = table.num_rows / (time.perf_counter() - t)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(port, args.scheme, args.workers)
    try:
        rss0 = rss_mb(proc.pid)
        with httpx.Client(base_url=base, timeout=60) as c:  # sequential, one client
            for case in cases[:50]:
                c.post("/v1/group", json=case)
            t = time.perf_counter()
            n_seq = 500
            for case in cases[:n_seq]:
                c.post("/v1/group", json=case)
            sequential = n_seq / (time.perf_counter() - t)
            c.get("/v1/metrics")
        rate, lat = asyncio.run(single_load(base, cases, args.requests, args.clients))
        with httpx.Client(base_url=base, timeout=300) as c:
            server = c.get("/v1/metrics").json()["latency"]["/v1/group"]
            chunks = [cases[i * args.batch : (i + 1) * args.batch] for i in range(args.batches)]
            c.post("/v1/group", json=chunks[0])
            t = time.perf_counter()
            for chunk in chunks:
                r = c.post("/v1/group", json=chunk)
                assert r.status_code == 200, r.text[:200]
            batched = args.batch * args.batches / (time.perf_counter() - t)
            rss1 = rss_mb(proc.pid)

            with tempfile.TemporaryDirectory() as tmp:
                src = Path(tmp) / "cases.parquet"
                big = generate(args.rows, scheme=args.scheme, seed=5)
                pq.write_table(big, src)
                t = time.perf_counter()
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "drgkit.cli",
                        "group",
                        str(src),
                        "-o",
                        str(Path(tmp) / "cli.parquet"),
                        "--scheme",
                        args.scheme,
                        "-q",
                    ],
                    check=True,
                )
                cli_rate = args.rows / (time.perf_counter() - t)
                t = time.perf_counter()
                drgkit.io.write_table(drgkit.group(src, scheme=args.scheme), Path(tmp) / "api.parquet")
                api_rate = args.rows / (time.perf_counter() - t)
                t = time.perf_counter()
                with open(src, "rb") as fh:
                    r = c.post("/v1/batch", files={"file": ("cases.parquet", fh)}, data={"scheme": args.scheme})
                assert r.status_code == 200, r.text[:200]
                (Path(tmp) / "served.parquet").write_bytes(r.content)
                serve_rate = args.rows / (time.perf_counter() - t)
                assert pq.read_metadata(Path(tmp) / "served.parquet").num_rows == args.rows
            rss2 = rss_mb(proc.pid)

        print(
            f"\nsingle case, 1 client:          {sequential:8,.0f} requests/s   (direct drgkit.group, one case per "
            f"call: {direct_single:,.0f}/s; ratio {sequential / direct_single:.2f})"
        )
        print(
            f"single case, {args.clients} clients:         {rate:8,.0f} requests/s   ratio to direct "
            f"{rate / direct_single:.2f}"
        )
        print(
            f"  client-side latency  p50 {np.percentile(lat, 50) * 1000:7.2f} ms   p99 "
            f"{np.percentile(lat, 99) * 1000:7.2f} ms"
        )
        print(
            f"  server-side latency  p50 {server['p50_ms']:7.2f} ms   p99 {server['p99_ms']:7.2f} ms   "
            f"(last {server['count']:,} requests)"
        )
        print(
            f"batched /v1/group, {args.batch} per call:  {batched:10,.0f} cases/s  (direct drgkit.group on the "
            f"table: {direct_batch:,.0f}/s; ratio {batched / direct_batch:.2f})"
        )
        print(
            f"/v1/batch, {args.rows:,}-row Parquet:   {serve_rate:10,.0f} rows/s   (drgkit group CLI, start-up "
            f"included: {cli_rate:,.0f}/s; ratio {serve_rate / cli_rate:.2f}; drgkit.group(file) + write in "
            f"this process: {api_rate:,.0f}/s; ratio {serve_rate / api_rate:.2f})"
        )
        print(f"server RSS: {rss0:.0f} MB at start, {rss1:.0f} MB after the JSON load, {rss2:.0f} MB after /v1/batch")
        if args.soak > 0:
            samples = []
            end = time.monotonic() + args.soak
            while time.monotonic() < end:
                asyncio.run(single_load(base, cases, 2000, args.clients))
                samples.append(rss_mb(proc.pid))
            shown = samples[:: max(1, len(samples) // 12)]
            print(
                f"soak {args.soak:.0f} s: RSS {' → '.join(f'{s:.0f}' for s in shown)}"
                f" MB (first {samples[0]:.0f}, last {samples[-1]:.0f}, max {max(samples):.0f})"
            )
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
