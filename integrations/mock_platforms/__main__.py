"""``python -m integrations.mock_platforms --port 8100 [--seed N] [--realtime] [--fault-rate 0.05]``"""

import argparse
import json
import logging

from .server import serve


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Simulated Taobao / JD / Pinduoduo open platforms")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--realtime", action="store_true", help="orders trickle in on the real clock")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--slow-seconds", type=float, default=2.0)
    parser.add_argument("--catalog", help="JSON file: list of SKUs")
    parser.add_argument("--shops", help="JSON file: list of shops with credentials")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    extra = {}
    for name in ("catalog", "shops"):
        if getattr(args, name):
            with open(getattr(args, name), encoding="utf-8") as fh:
                extra[name] = json.load(fh)
    serve(args.port, args.seed, host=args.host, realtime=args.realtime, fault_rate=args.fault_rate,
          verbose=not args.quiet, config={"slow_seconds": args.slow_seconds}, **extra)


if __name__ == "__main__":
    main()
