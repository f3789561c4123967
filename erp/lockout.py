"""Password guessing is stopped by django-axes (settings: AXES_*; README, "Login lockout").

Failed logins on the operator login (/accounts/login/) and the admin login (/admin/login/) are
counted by axes' authentication backend per username and per client address: when either count
reaches LOGIN_FAILURE_LIMIT, every login for that username, or from that address, is refused (even
with the right password) for LOGIN_COOLOFF_MINUTES, and the page says so. The signup form counts its
refused submissions against the address only (it answers "this username is taken", so it is a way
to probe usernames), and is refused while the address is locked.

Unlocking before the cool-off ends: the "Unlock login" action on the memberships admin (a tenant's
owner or admin, for the tenant's own users), the lockout admin (platform superusers: every locked
username and address) or ``manage.py axes_reset_username NAME`` / ``axes_reset_ip ADDR`` /
``axes_reset``. API tokens are not passwords: the API has no endpoint that takes one.
"""

from datetime import timedelta

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_ip_address
from axes.utils import reset
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.shortcuts import render
from django.utils.translation import gettext as _

SIGNUP = "signup"  # marks the credentials of a signup attempt


def lockout_parameters(request, credentials=None):
    """Either the username or the address reaching the limit locks; a signup counts per address."""
    if credentials and credentials.get(SIGNUP):
        return ["ip_address"]
    return ["username", "ip_address"]


def cool_off(request=None) -> timedelta:
    return timedelta(minutes=settings.AXES_LOGIN_COOLOFF_MINUTES)


def lockout_message() -> str:
    minutes = settings.AXES_LOGIN_COOLOFF_MINUTES
    return _(
        "Too many failed attempts: sign-in for this account, or from this address, is locked for "
        "%(minutes)s minutes. Wait, or ask an administrator of your company to unlock your login."
    ) % {"minutes": minutes}


def lockout_response(request, original_response=None, credentials=None):
    """The page a locked login or signup gets: 429 with the reason and the way out."""
    return render(request, "registration/locked.html", {"message": lockout_message()},
                  status=settings.AXES_HTTP_RESPONSE_CODE)


# --- signup -------------------------------------------------------------------------------------

def signup_credentials(request) -> dict:
    return {SIGNUP: True, "username": None}


def signup_allowed(request) -> bool:
    return AxesProxyHandler.is_allowed(request, signup_credentials(request))


def signup_failed(request) -> None:
    """Count a refused signup against the client address (as a failed login, without a username)."""
    user_login_failed.send(sender=__name__, credentials=signup_credentials(request), request=request)


# --- unlock -------------------------------------------------------------------------------------

def login_unlock(*, username: str | None = None, ip_address: str | None = None) -> int:
    """Forget the failures of a username or an address (the lock lifts at once); the number of
    failure records removed."""
    if not (username or ip_address):
        raise ValueError("login_unlock needs a username or an address")
    return reset(username=username, ip=ip_address)


def client_address(request) -> str | None:
    return get_client_ip_address(request)
