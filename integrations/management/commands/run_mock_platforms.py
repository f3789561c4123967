"""``manage.py run_mock_platforms --port 8100 [--seed N] [--realtime] [--fault-rate 0.05]``

Runs the simulated Taobao / JD / Pinduoduo open platforms (integrations/mock_platforms, see its
PROTOCOL.md) in the foreground. The simulator itself does not use Django; this is only a launcher.
"""

import json
import logging

from django.core.management.base import BaseCommand

from integrations.mock_platforms.server import serve


class Command(BaseCommand):
    help = "Run the simulated Taobao / JD / Pinduoduo open platforms (HTTP)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--realtime", action="store_true", help="orders trickle in on the real clock")
        parser.add_argument("--fault-rate", type=float, default=0.0, help="probability of a random fault per call")
        parser.add_argument("--slow-seconds", type=float, default=2.0, help="delay of a 'slow' fault")
        parser.add_argument("--orders-per-hour", type=float, default=None, help="per shop")
        parser.add_argument("--catalog", help="JSON file: list of SKUs (outer_id, item_outer_id, title, price, quantity)")
        parser.add_argument("--shops", help="JSON file: list of shops (code, platform, app_key, app_secret, ...)")
        parser.add_argument("--verbose-requests", action="store_true", help="log every request")

    def handle(self, *args, host, port, seed, realtime, fault_rate, slow_seconds, orders_per_hour, catalog, shops,
               verbose_requests, **options):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        config = {"slow_seconds": slow_seconds}
        if orders_per_hour is not None:
            config["orders_per_hour"] = orders_per_hour
        self.stdout.write(f"Mock platforms on http://{host}:{port} (seed {seed}, realtime {realtime}, "
                          f"fault rate {fault_rate}); control: /_control/state")
        extra = {}
        for name, path in (("catalog", catalog), ("shops", shops)):
            if path:
                with open(path, encoding="utf-8") as fh:
                    extra[name] = json.load(fh)
        serve(port, seed, host=host, realtime=realtime, fault_rate=fault_rate, verbose=verbose_requests, config=config,
              **extra)
