"""Request metrics of one server process: counts by route and status, latency quantiles over the last
requests of each route, cases grouped.  ``GET /metrics`` gives them in the Prometheus text format,
``GET /v1/metrics`` as JSON."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from typing import Any

import numpy as np

#: Latencies kept per route for the quantiles.
WINDOW = 20_000


class Metrics:
    def __init__(self) -> None:
        self.started = time.time()
        self.counts: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=WINDOW))
        self.seconds: dict[str, float] = defaultdict(float)
        self.in_flight = 0
        self._lock = threading.Lock()

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.counts[(method, route, status)] += 1
            self.latency[route].append(seconds)
            self.seconds[route] += seconds

    def quantiles(self) -> dict[str, dict[str, float]]:
        with self._lock:
            snap = {route: np.fromiter(values, float) for route, values in self.latency.items() if values}
        return {
            route: {
                "count": int(v.size),
                "p50_ms": round(float(np.percentile(v, 50)) * 1000, 3),
                "p99_ms": round(float(np.percentile(v, 99)) * 1000, 3),
                "max_ms": round(float(v.max()) * 1000, 3),
            }
            for route, v in snap.items()
        }

    def as_dict(self, engine: Any = None) -> dict[str, Any]:
        with self._lock:
            counts = [
                {"method": m, "route": r, "status": s, "count": n} for (m, r, s), n in sorted(self.counts.items())
            ]
        out = {
            "uptime_s": round(time.time() - self.started, 1),
            "in_flight": self.in_flight,
            "requests": counts,
            "latency": self.quantiles(),
        }
        if engine is not None:
            out["cases_grouped"] = engine.cases_grouped
            out["group_batches"] = engine.batches
        return out

    def prometheus(self, engine: Any = None) -> str:
        lines = [
            "# HELP drgkit_requests_total HTTP requests by method, route and status.",
            "# TYPE drgkit_requests_total counter",
        ]
        with self._lock:
            for (m, r, s), n in sorted(self.counts.items()):
                lines.append(f'drgkit_requests_total{{method="{m}",route="{r}",status="{s}"}} {n}')
            seconds = dict(self.seconds)
        lines += [
            "# HELP drgkit_request_seconds_total Time spent answering requests, by route.",
            "# TYPE drgkit_request_seconds_total counter",
        ]
        lines += [f'drgkit_request_seconds_total{{route="{r}"}} {v:.6f}' for r, v in sorted(seconds.items())]
        lines += [
            "# HELP drgkit_request_latency_seconds Latency quantiles over the last requests, by route.",
            "# TYPE drgkit_request_latency_seconds gauge",
        ]
        for r, q in sorted(self.quantiles().items()):
            lines.append(f'drgkit_request_latency_seconds{{route="{r}",quantile="0.5"}} {q["p50_ms"] / 1000:.6f}')
            lines.append(f'drgkit_request_latency_seconds{{route="{r}",quantile="0.99"}} {q["p99_ms"] / 1000:.6f}')
        lines += [
            "# HELP drgkit_requests_in_flight Requests being answered.",
            "# TYPE drgkit_requests_in_flight gauge",
            f"drgkit_requests_in_flight {self.in_flight}",
        ]
        if engine is not None:
            lines += [
                "# HELP drgkit_cases_grouped_total Cases grouped by /v1/group.",
                "# TYPE drgkit_cases_grouped_total counter",
                f"drgkit_cases_grouped_total {engine.cases_grouped}",
            ]
        lines += [
            "# HELP drgkit_uptime_seconds Seconds since start-up.",
            "# TYPE drgkit_uptime_seconds gauge",
            f"drgkit_uptime_seconds {time.time() - self.started:.1f}",
        ]
        return "\n".join(lines) + "\n"
