"""The orders fixtures (a shop, fakes of inventory and integrations) and the orders sales report's
constructed day, reused: the rollups must answer what the orders report answers."""

from tests.orders.conftest import integ, inv, published, shop, world  # noqa: F401
from tests.orders.test_reports import sales  # noqa: F401
