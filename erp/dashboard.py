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


@dataclass(frozen=True)
class NavGroup:
    """One app's links in the top navigation: a plain link when it has one page, a menu otherwise."""

    label: str
    app_label: str
    links: tuple[NavLink, ...]


def nav_groups_for(request) -> list[NavGroup]:
    """nav_for(request) grouped by app, in the order the apps registered their first link."""
    from django.apps import apps

    groups: dict[str, list[NavLink]] = {}
    for link in nav_for(request):
        groups.setdefault(link.app_label, []).append(link)
    return [NavGroup(label=str(apps.get_app_config(app_label).verbose_name), app_label=app_label, links=tuple(links))
            for app_label, links in groups.items()]


@dataclass(frozen=True)
class Chart:
    """A chart on the landing dashboard, drawn by static/erp/charts.js from ``spec`` (see there):
    ``{"type": "bar" | "line" | "pie", "categories": [...], "series": [{"name", "data", ...}], ...}``.
    The numbers come from the owning app's selectors (the ones its report pages use)."""

    key: str  # the element id: "chart-<key>"
    title: str
    spec: dict
    url: str = ""  # the report the chart summarises
    hint: str = ""
    app_label: str = ""  # shown only to roles that may read this app
    order: int = 100


_chart_providers: list[tuple[Callable, str]] = []


def register_chart(provider: Callable, *, app_label: str = "") -> Callable:
    """``provider(request) -> list[Chart]``, called in the request's tenant; with ``app_label`` it is
    not called at all for roles that may not read that app (its queries are not run for nothing)."""
    if (provider, app_label) not in _chart_providers:
        _chart_providers.append((provider, app_label))
    return provider


def charts_for(request) -> list[Chart]:
    from erp.tenancy.roles import app_access

    role = request.membership.role
    charts: list[Chart] = []
    for provider, app_label in _chart_providers:
        if app_label and role not in app_access(app_label)[0]:
            continue
        charts.extend(c for c in provider(request) if not c.app_label or role in app_access(c.app_label)[0])
    return sorted(charts, key=lambda c: c.order)
