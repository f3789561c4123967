"""Cards on the landing dashboard. Each domain app registers a provider in its AppConfig.ready():

    from erp import dashboard
    dashboard.register(lambda request: [dashboard.Card(title=_("Orders to review"), value=n, url="...")])

Providers run inside the request's tenant and must only use their app's selectors.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Card:
    title: str
    value: object
    url: str = ""
    hint: str = ""
    tone: str = "neutral"  # neutral | good | warn | bad
    app_label: str = ""  # the card is shown only to roles that may read this app


_providers: list[Callable] = []


def register(provider: Callable) -> Callable:
    if provider not in _providers:
        _providers.append(provider)
    return provider


def cards_for(request) -> list[Card]:
    from erp.tenancy.roles import app_access

    role = request.membership.role
    cards: list[Card] = []
    for provider in _providers:
        for card in provider(request):
            if not card.app_label or role in app_access(card.app_label)[0]:
                cards.append(card)
    return cards


@dataclass(frozen=True)
class NavLink:
    label: str
    url_name: str
    app_label: str


_nav: list[NavLink] = []


def register_nav(link: NavLink) -> None:
    """A purpose-built page in the top navigation, shown to roles that may read its app."""
    if link not in _nav:
        _nav.append(link)


def nav_for(request) -> list[NavLink]:
    from erp.tenancy.roles import app_access

    membership = getattr(request, "membership", None)
    if membership is None:
        return []
    return [link for link in _nav if membership.role in app_access(link.app_label)[0]]
