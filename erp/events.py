"""A small synchronous domain-event dispatcher, so apps react to each other without importing
each other's tables. Handlers run in the publisher's transaction (use transaction.on_commit inside a
handler for background work).

    # integrations/services.py
    events.publish("platform_orders.changed", shop_id=shop.pk, platform_order_ids=[...])
    # orders/apps.py ready()
    events.subscribe("platform_orders.changed", orders.services.on_platform_orders_changed)
"""

from collections import defaultdict
from collections.abc import Callable

_handlers: dict[str, list[Callable]] = defaultdict(list)


def subscribe(event: str, handler: Callable) -> None:
    if handler not in _handlers[event]:
        _handlers[event].append(handler)


def publish(event: str, **payload) -> list:
    return [handler(**payload) for handler in list(_handlers[event])]


def handlers(event: str) -> list[Callable]:
    return list(_handlers[event])
