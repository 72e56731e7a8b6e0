"""Request counters and latency percentiles, rendered in the Prometheus text format (version 0.0.4)."""

from __future__ import annotations

import threading
from collections import defaultdict, deque

import numpy as np

QUANTILES = (0.5, 0.95, 0.99)


class RequestMetrics:
    """Counts requests by (route, method, status) and keeps the latest latencies per route.

    Args:
        window: latencies kept per route for the percentiles (a sliding window of recent requests).
    """

    def __init__(self, window: int = 10_000) -> None:
        self.window = window
        self.counts: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=window))
        self.latency_sum: dict[str, float] = defaultdict(float)
        self.latency_count: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Record one finished request."""
        with self.lock:
            self.counts[(route, method, status)] += 1
            self.latency[route].append(seconds)
            self.latency_sum[route] += seconds
            self.latency_count[route] += 1

    def percentiles(self, route: str) -> dict[float, float]:
        """Latency quantiles (seconds) over the route's recent window."""
        with self.lock:
            values = np.fromiter(self.latency.get(route, ()), dtype=np.float64)
        if not len(values):
            return {}
        return {q: float(v) for q, v in zip(QUANTILES, np.quantile(values, QUANTILES))}

    def render(self, gauges: dict[str, float] | None = None) -> str:
        """The Prometheus exposition text: counters, a latency summary per route, then extra gauges."""
        lines = ["# HELP contrarec_requests_total HTTP requests by route, method and status.",
                 "# TYPE contrarec_requests_total counter"]
        with self.lock:
            counts = sorted(self.counts.items())
            sums, totals = dict(self.latency_sum), dict(self.latency_count)
        for (route, method, status), n in counts:
            lines.append(f'contrarec_requests_total{{route="{route}",method="{method}",status="{status}"}} {n}')
        lines += ["# HELP contrarec_request_latency_seconds Request latency (quantiles over recent requests).",
                  "# TYPE contrarec_request_latency_seconds summary"]
        for route in sorted(totals):
            for q, v in self.percentiles(route).items():
                lines.append(f'contrarec_request_latency_seconds{{route="{route}",quantile="{q}"}} {v:.6f}')
            lines.append(f'contrarec_request_latency_seconds_sum{{route="{route}"}} {sums[route]:.6f}')
            lines.append(f'contrarec_request_latency_seconds_count{{route="{route}"}} {totals[route]}')
        for name, value in (gauges or {}).items():
            lines += [f"# TYPE {name} gauge", f"{name} {value:g}"]
        return "\n".join(lines) + "\n"
