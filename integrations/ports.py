"""What integrations hands to the other apps, as types: the one normalised form of a platform's
orders, refunds and settlement bill lines (see integrations/normalized.py for the fields).

Other apps import these from here, never from integrations.normalized or integrations.models (the
import-linter contracts in pyproject.toml enforce it). The records themselves are read through
integrations.selectors (normalized_orders, normalized_refunds, normalized_bill_lines) when an
erp.events message (platform_orders.changed, platform_refunds.changed, platform_bills.changed) names
them; shops through the shop selectors there.
"""

from .normalized import (
    NormalizedAddress,
    NormalizedBillLine,
    NormalizedCoupon,
    NormalizedLine,
    NormalizedOrder,
    NormalizedRefund,
    OrderState,
)

__all__ = [
    "NormalizedAddress",
    "NormalizedBillLine",
    "NormalizedCoupon",
    "NormalizedLine",
    "NormalizedOrder",
    "NormalizedRefund",
    "OrderState",
]


# --- third-party warehouses (QiMen style) and e-waybill carriers: the clients (integrations/adapters/qimen.py)
from .adapters.base import AdapterError  # noqa: E402
from .adapters.qimen import (  # noqa: E402
    CainiaoCarrierClient,
    QimenWmsClient,
    WmsConfirmation,
    WmsError,
    WmsLine,
)


def wms_client(*, base_url: str, app_key: str, app_secret: str, customer_id: str, **kwargs) -> QimenWmsClient:
    """A QiMen client for one owner (customerId) at a WMS; every call raises WmsError when it fails."""
    try:
        return QimenWmsClient(base_url=base_url, app_key=app_key, app_secret=app_secret, customer_id=customer_id,
                              **kwargs)
    except AdapterError as exc:  # a misconfigured account (no http(s) URL): a WMS failure like any other
        raise WmsError(str(exc)) from exc


def carrier_client(*, base_url: str, app_key: str, app_secret: str, **kwargs) -> CainiaoCarrierClient:
    """An e-waybill client (Cainiao / SF style) for one carrier account; failures raise WmsError."""
    try:
        return CainiaoCarrierClient(base_url=base_url, app_key=app_key, app_secret=app_secret, **kwargs)
    except AdapterError as exc:
        raise WmsError(str(exc)) from exc


__all__ += ["CainiaoCarrierClient", "QimenWmsClient", "WmsConfirmation", "WmsError", "WmsLine", "carrier_client",
            "wms_client"]
