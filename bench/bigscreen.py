"""The big screen soak: an hour on the wall display in headless Chromium, orders flowing in.

    make bench BENCH_ARGS=bigscreen                      # 60 minutes
    SOAK_MINUTES=5 make bench BENCH_ARGS=bigscreen       # a short run

Only run when named (a plain ``make bench`` skips it). In the bench database it seeds a demo
tenant whose shops point at a private mock platforms server in real-time mode (orders trickle
in), serves the app with its background jobs in process (``manage.py serve``: the beat pulls the
orders every minute and folds the rollups), logs in with headless Chromium (/usr/bin/chromium) and
opens /analytics/bigscreen/ (polling every SOAK_EVERY seconds, default 10). Then:

* every minute: a garbage collection, then the JS heap (CDP ``Performance.getMetrics``:
  JSHeapUsedSize), DOM nodes, event listeners and the server's RSS;
* all the time: page errors, console errors, failed requests and API answers >= 400;
* every SOAK_CHECK_MINUTES (default 5): the figures the screen last rendered (its API answer, and
  the KPI texts against that answer) against the reports for today, fetched in the same session:
  ``/api/v1/orders/reports/sales/`` (the orders report, read from the orders) and
  ``/api/v1/analytics/sales/`` (the rollups): paid orders, units, GMV, orders per hour, GMV and
  orders by platform and by shop, the top SKUs by GMV. A sync can land between the two reads, so a
  comparison is taken against the screen's answer just before and just after the reports and
  retried a few times before it counts as a mismatch.

It prints the samples and a summary (heap start/end/max and slope after a warm-up, nodes,
errors, mismatches, orders that came in) and exits 1 when the heap or the DOM grew, or on any
error or mismatch, or when no order came in.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

SLUG = "soak"
PASSWORD = "Soak-pw-2024"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WARMUP_MINUTES = 3
GROWTH = 1.25          # the last quarter's median heap / nodes against the first (after warm-up)
GROWTH_SLACK = 1 << 20  # 1 MB of heap slack on top


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise RuntimeError(f"nothing answers on port {port} after {seconds:.0f} s")


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _stop(proc: subprocess.Popen | None) -> None:
    """Stop a child we started (its own process group, by its pid)."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (minute, value)."""
    if len(points) < 2:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0


def _d(value) -> Decimal:
    return Decimal(str(value if value is not None else 0)).quantize(Decimal("0.01"))


def _screen_figures(payload: dict) -> dict:
    return {
        "paid_orders": payload["today"]["paid_orders"], "units": payload["today"]["units"],
        "gmv": _d(payload["today"]["gmv"]),
        "hours": [h["today"] for h in payload["hours"]],
        "by_platform": {p["name"]: (_d(p["gmv"]), p["paid_orders"]) for p in payload["by_platform"]},
        "by_shop": {s["name"]: (_d(s["gmv"]), s["paid_orders"]) for s in payload["by_shop"]},
        "top_gmv": [_d(s["gmv"]) for s in payload["top_skus"]],
        "top_skus": {s["sku_code"]: (s["units"], _d(s["gmv"])) for s in payload["top_skus"]},
    }


def _report_figures(report: dict) -> dict:
    top = report["top_skus_by_gmv"]
    return {
        "paid_orders": report["totals"]["paid_orders"], "units": report["totals"]["units"],
        "gmv": _d(report["totals"]["gmv"]),
        "hours": [h["paid_orders"] for h in report["hours"]],
        "by_platform": {p["name"]: (_d(p["gmv"]), p["paid_orders"]) for p in report["by_platform"]},
        "by_shop": {s["name"]: (_d(s["gmv"]), s["paid_orders"]) for s in report["by_shop"]},
        "top_gmv": [_d(s["gmv"]) for s in top],
        "top_skus": {s["sku_code"]: (s["units"], _d(s["gmv"])) for s in top},
    }


def _differences(screen: dict, report: dict) -> list[str]:
    out = []
    for key in ("paid_orders", "units", "gmv", "hours", "by_platform", "by_shop"):
        if screen[key] != report[key]:
            out.append(f"{key}: screen {screen[key]} report {report[key]}")
    n = min(len(screen["top_gmv"]), len(report["top_gmv"]))
    if screen["top_gmv"][:n] != report["top_gmv"][:n] or len(screen["top_gmv"]) != len(report["top_gmv"]):
        out.append(f"top SKUs GMV: screen {screen['top_gmv']} report {report['top_gmv']}")
    for code in set(screen["top_skus"]) & set(report["top_skus"]):
        if screen["top_skus"][code] != report["top_skus"][code]:
            out.append(f"SKU {code}: screen {screen['top_skus'][code]} report {report['top_skus'][code]}")
    return out


class Soak:
    def __init__(self, page, cdp, base: str, every: int):
        self.page, self.cdp, self.base, self.every = page, cdp, base, every
        self.errors: list[str] = []
        page.on("pageerror", lambda e: self._error(f"pageerror: {e}"))
        page.on("console", lambda m: self._error(f"console: {m.text}") if m.type == "error" else None)
        page.on("requestfailed", lambda r: self._error(f"request failed: {r.url} {r.failure}"))
        page.on("response", self._response)

    def _error(self, text: str) -> None:
        self.errors.append(f"{time.strftime('%H:%M:%S')} {text}")
        print(f"  ERROR {text}", flush=True)

    def _response(self, response) -> None:
        if "/api/" in response.url and response.status >= 400:
            self._error(f"HTTP {response.status} {response.url}")

    def loaded(self) -> int:
        return int(self.page.evaluate("Number(document.getElementById('bigscreen').dataset.loaded || 0)"))

    def next_payload(self) -> dict:
        """Wait for the screen's next refresh (it renders then marks data-loaded) and return its answer."""
        timeout = (self.every * 3 + 30) * 1000
        with self.page.expect_response(lambda r: r.url.endswith("/api/v1/analytics/bigscreen/") and r.ok,
                                       timeout=timeout) as answer:
            seen = self.loaded()
        payload = answer.value.json()
        self.page.wait_for_function(f"Number(document.getElementById('bigscreen').dataset.loaded || 0) > {seen}",
                                    timeout=timeout)
        return payload

    def sample(self) -> dict:
        self.cdp.send("HeapProfiler.collectGarbage")
        metrics = {m["name"]: m["value"] for m in self.cdp.send("Performance.getMetrics")["metrics"]}
        return {"heap": metrics.get("JSHeapUsedSize", 0), "total": metrics.get("JSHeapTotalSize", 0),
                "nodes": int(metrics.get("Nodes", 0)), "listeners": int(metrics.get("JSEventListeners", 0)),
                "documents": int(metrics.get("Documents", 0))}

    def _fetch(self, path: str) -> dict:
        return self.page.evaluate(
            "async (u) => { const r = await fetch(u, {credentials: 'same-origin', headers: {Accept: 'application/json'}});"
            " if (!r.ok) { throw new Error(u + ' ' + r.status); } return await r.json(); }", path)

    def kpi_texts_match(self, payload: dict) -> list[str]:
        """The KPI texts on the page are the rendered answer's figures (formatted as the page does)."""
        got = self.page.evaluate(
            "(d) => { const lang = document.documentElement.lang || 'en';"
            " const money = new Intl.NumberFormat(lang, {style: 'currency', currency: 'CNY', maximumFractionDigits: 0});"
            " const count = new Intl.NumberFormat(lang);"
            " const t = (id) => document.getElementById(id).textContent;"
            " return [[t('kpi-gmv'), money.format(Number(d.today.gmv))],"
            "         [t('kpi-orders'), count.format(d.today.paid_orders)],"
            "         [t('kpi-units'), count.format(d.today.units)]]; }", payload)
        return [f"page shows {shown!r}, its answer says {want!r}" for shown, want in got if shown != want]

    def compare(self, attempts: int = 4) -> tuple[bool, list[str], int]:
        """(matched, differences of the last attempt, today's paid orders)."""
        last: list[str] = []
        for _ in range(attempts):
            before = self.next_payload()
            day = before["day"]
            query = f"?date_from={day}&date_to={day}"
            orders_report = self._fetch("/api/v1/orders/reports/sales/" + query)
            rollup_report = self._fetch("/api/v1/analytics/sales/" + query)
            after = self.next_payload()
            last = self.kpi_texts_match(after)
            if last:
                continue
            if after["day"] != day:
                last = ["the day changed during the comparison"]
                continue
            a, b = _report_figures(orders_report), _report_figures(rollup_report)
            last = [f"orders report vs analytics report: {x}" for x in _differences(a, b)]
            if last:
                continue
            for payload in (before, after):
                diff = _differences(_screen_figures(payload), a)
                if not diff:
                    return True, [], a["paid_orders"]
                last = diff
        return False, last, _report_figures(orders_report)["paid_orders"]


def run(args) -> None:
    if "bigscreen" not in (args.names or []):
        print("skipped: an hour long; run it by name (make bench BENCH_ARGS=bigscreen, SOAK_MINUTES=5 for a short run)")
        return
    from playwright.sync_api import sync_playwright

    minutes = float(os.environ.get("SOAK_MINUTES", "60"))
    every = int(os.environ.get("SOAK_EVERY", "10"))
    check_every = float(os.environ.get("SOAK_CHECK_MINUTES", "5"))
    root = Path(__file__).resolve().parent.parent
    web_port, mock_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(MOCK_PLATFORMS_PORT=str(mock_port), MOCK_PLATFORMS_URL=f"http://127.0.0.1:{mock_port}",
               DEBUG="1", LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1")
    python = sys.executable
    mock = server = None
    logs = Path(os.environ.get("SOAK_LOG_DIR", "var/soak"))
    logs.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run([python, "manage.py", "seed_demo", "--tenant", SLUG, "--password", PASSWORD], cwd=root,
                       env=env, check=True, stdout=subprocess.DEVNULL)
        mock = subprocess.Popen([python, "manage.py", "run_mock_platforms", "--port", str(mock_port), "--realtime"],
                                cwd=root, env=env, start_new_session=True,
                                stdout=open(logs / "mock.log", "w"), stderr=subprocess.STDOUT)  # noqa: SIM115
        _wait_port(mock_port, mock)
        server = subprocess.Popen([python, "manage.py", "serve", f"127.0.0.1:{web_port}"], cwd=root, env=env,
                                  start_new_session=True, stdout=open(logs / "server.log", "w"),  # noqa: SIM115
                                  stderr=subprocess.STDOUT)
        _wait_port(web_port, server)
        base = f"http://127.0.0.1:{web_port}"
        print(f"serving {base} (pid {server.pid}), mock platforms on {mock_port} (pid {mock.pid}); logs in {logs}; "
              f"{minutes:g} min, the screen polls every {every} s, figures checked every {check_every:g} min",
              flush=True)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_context(locale="zh-CN", viewport={"width": 1920, "height": 1080}).new_page()
            page.set_default_timeout(60_000)
            page.goto(base + "/accounts/login/")
            page.fill("#id_username", SLUG)
            page.fill("#id_password", PASSWORD)
            with page.expect_navigation():
                page.click("#login-submit")
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            soak = Soak(page, cdp, base, every)
            page.goto(f"{base}/analytics/bigscreen/?every={every}")
            soak.next_payload()
            result = _loop(soak, server, minutes, check_every)
            browser.close()
    finally:
        _stop(server)
        _stop(mock)
    if not result:
        raise SystemExit(1)


def _loop(soak: Soak, server, minutes: float, check_every: float) -> bool:
    start = time.monotonic()
    samples: list[dict] = []
    checks = mismatches = 0
    first_orders = last_orders = None
    next_check = 0.0
    print(f"{'min':>5} {'heap MB':>8} {'nodes':>6} {'listeners':>9} {'server MB':>9} {'refreshes':>9}  check", flush=True)
    minute = 0
    while True:
        elapsed = (time.monotonic() - start) / 60
        note = ""
        if elapsed >= next_check:
            checks += 1
            ok, diff, orders = soak.compare()
            first_orders = orders if first_orders is None else first_orders
            last_orders = orders
            if not ok:
                mismatches += 1
                note = "MISMATCH " + "; ".join(diff)[:400]
            else:
                note = f"figures equal the reports' ({orders} paid orders today)"
            next_check += check_every
        s = soak.sample()
        s.update(minute=(time.monotonic() - start) / 60, server=_rss_mb(server.pid), loaded=soak.loaded())
        samples.append(s)
        print(f"{s['minute']:5.1f} {s['heap'] / 2**20:8.2f} {s['nodes']:>6} {s['listeners']:>9} "
              f"{(s['server'] or 0):9.1f} {s['loaded']:>9}  {note}", flush=True)
        if elapsed >= minutes:
            break
        minute += 1
        # wait inside Playwright so that its events (errors, answers) are handled as they come
        soak.page.wait_for_timeout(max(0.0, start + minute * 60 - time.monotonic()) * 1000)
    return _summary(samples, soak.errors, checks, mismatches, first_orders, last_orders)


def _summary(samples, errors, checks, mismatches, first_orders, last_orders) -> bool:
    steady = [s for s in samples if s["minute"] >= WARMUP_MINUTES] or samples
    quarter = max(1, len(steady) // 4)
    head, tail = steady[:quarter], steady[-quarter:]
    heap_head = statistics.median(s["heap"] for s in head)
    heap_tail = statistics.median(s["heap"] for s in tail)
    nodes_head = statistics.median(s["nodes"] for s in head)
    nodes_tail = statistics.median(s["nodes"] for s in tail)
    slope = _slope([(s["minute"], s["heap"] / 1024) for s in steady])
    heap_grew = heap_tail > heap_head * GROWTH + GROWTH_SLACK
    nodes_grew = nodes_tail > nodes_head * GROWTH + 50
    listeners_grew = steady[-1]["listeners"] > steady[0]["listeners"] * GROWTH + 20
    came_in = (last_orders or 0) - (first_orders or 0)
    mb = 2**20
    print("\n== big screen soak ==")
    print(f"duration {samples[-1]['minute']:.1f} min, {samples[-1]['loaded']} refreshes, {len(samples)} samples")
    print(f"JS heap used: start {samples[0]['heap'] / mb:.2f} MB, after warm-up {steady[0]['heap'] / mb:.2f} MB, "
          f"end {samples[-1]['heap'] / mb:.2f} MB, max {max(s['heap'] for s in samples) / mb:.2f} MB; "
          f"median first/last quarter {heap_head / mb:.2f} / {heap_tail / mb:.2f} MB; slope {slope:+.1f} KB/min"
          f"{'  [GREW]' if heap_grew else ''}")
    print(f"DOM nodes: start {samples[0]['nodes']}, end {samples[-1]['nodes']}, max {max(s['nodes'] for s in samples)}"
          f"{'  [GREW]' if nodes_grew else ''}; event listeners {samples[0]['listeners']} -> {samples[-1]['listeners']}"
          f"{'  [GREW]' if listeners_grew else ''}")
    servers = [s["server"] for s in samples if s["server"]]
    if servers:
        print(f"server RSS: start {servers[0]:.0f} MB, end {servers[-1]:.0f} MB, max {max(servers):.0f} MB")
    print(f"errors: {len(errors)}" + "".join(f"\n  {e}" for e in errors[:20]))
    print(f"figure checks: {checks}, mismatches: {mismatches}")
    print(f"paid orders today: {first_orders} at the first check, {last_orders} at the last (+{came_in})")
    ok = not (heap_grew or nodes_grew or listeners_grew or errors or mismatches or came_in <= 0)
    print("RESULT: " + ("PASS" if ok else "FAIL"), flush=True)
    return ok
