"""Password guessing is stopped (django-axes, erp/lockout.py): per username and per client address,
on the operator login, the admin login and the signup; a tenant's admin unlocks its users."""

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.urls import reverse

from erp.tenancy.models import Membership
from erp.tenancy.services import membership_add, tenant_create

pytestmark = pytest.mark.django_db
PASSWORD = "Lockout-pw-2024"
LIMIT = settings.AXES_FAILURE_LIMIT
LOGIN = "/accounts/login/"


@pytest.fixture
def company():
    tenant = tenant_create(name="Lock Co", slug="lock-co", owner_username="lock-owner", owner_password=PASSWORD)
    membership_add(tenant=tenant, username="lock-clerk", role="operator", password=PASSWORD)
    membership_add(tenant=tenant, username="lock-other", role="operator", password=PASSWORD)
    return tenant


def client_from(address: str) -> Client:
    return Client(REMOTE_ADDR=address)


def login(client, username, password, url=LOGIN):
    return client.post(url, {"username": username, "password": password})


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def locked(response) -> bool:
    return response.status_code == 429 and 'id="lockout-message"' in response.content.decode()


def test_thirty_wrong_passwords_are_stopped_and_the_right_one_is_refused_while_locked(company):
    client = client_from("198.51.100.7")
    answers = [login(client, "lock-clerk", f"guess-{n}") for n in range(30)]
    assert all(a.status_code == 200 for a in answers[: LIMIT - 1])  # the form again, with its error
    assert all(locked(a) for a in answers[LIMIT:]), [a.status_code for a in answers]
    text = answers[-1].content.decode()
    assert f"{settings.AXES_LOGIN_COOLOFF_MINUTES} minutes" in text and "administrator" in text

    response = login(client, "lock-clerk", PASSWORD)
    assert locked(response) and not logged_in(client)


def test_the_lockout_message_is_translated(company):
    client = client_from("198.51.100.8")
    for n in range(LIMIT):
        login(client, "lock-clerk", f"guess-{n}")
    response = client.post(LOGIN, {"username": "lock-clerk", "password": PASSWORD}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert locked(response)
    assert 'lang="zh-hans"' in response.content.decode()


def test_per_user_the_username_stays_locked_from_any_address(company):
    for n in range(LIMIT):  # one wrong password from each of LIMIT addresses
        login(client_from(f"203.0.113.{n + 1}"), "lock-clerk", "wrong")
    fresh = client_from("203.0.113.200")
    assert locked(login(fresh, "lock-clerk", PASSWORD)) and not logged_in(fresh)
    # the address is not locked for another user
    other = client_from("203.0.113.1")
    assert login(other, "lock-other", PASSWORD).status_code == 302 and logged_in(other)


def test_per_address_one_address_guessing_many_usernames_is_locked(company):
    attacker = client_from("192.0.2.50")
    for n in range(LIMIT):  # one wrong password for each of LIMIT usernames, most of them unknown
        login(attacker, f"someone-{n}", "wrong")
    assert locked(login(attacker, "lock-other", PASSWORD)) and not logged_in(attacker)
    elsewhere = client_from("192.0.2.51")  # the same user from another address logs in
    assert login(elsewhere, "lock-other", PASSWORD).status_code == 302 and logged_in(elsewhere)


def test_the_admin_login_is_guarded_too(company):
    client = client_from("198.51.100.20")
    url = reverse("admin:login")
    answers = [login(client, "lock-clerk", "wrong", url=url) for _ in range(LIMIT + 2)]
    assert locked(answers[-1])
    assert locked(login(client, "lock-clerk", PASSWORD, url=url)) and not logged_in(client)
    # and the count is shared with the operator login
    assert locked(login(client_from("198.51.100.21"), "lock-clerk", PASSWORD))


def test_a_tenant_admin_unlocks_a_user_from_the_memberships_admin(company):
    victim = client_from("198.51.100.30")
    for n in range(LIMIT):
        login(victim, "lock-clerk", f"guess-{n}")
    assert locked(login(victim, "lock-clerk", PASSWORD))

    admin_client = Client()
    admin_client.force_login(Membership.objects.get(user__username="lock-owner").user)
    clerk = Membership.objects.get(user__username="lock-clerk")
    response = admin_client.post(reverse("admin:tenancy_membership_changelist"),
                                 {"action": "unlock_login", "_selected_action": [clerk.pk]}, follow=True)
    assert response.status_code == 200
    assert "Login unlocked for lock-clerk" in response.content.decode()
    assert not AccessAttempt.objects.filter(username="lock-clerk").exists()

    response = login(client_from("198.51.100.31"), "lock-clerk", PASSWORD)
    assert response.status_code == 302


def test_an_operator_may_not_unlock(company):
    clerk_client = Client()
    clerk_client.force_login(Membership.objects.get(user__username="lock-clerk").user)
    for n in range(LIMIT):
        login(client_from("198.51.100.40"), "lock-other", f"guess-{n}")
    other = Membership.objects.get(user__username="lock-other")
    clerk_client.post(reverse("admin:tenancy_membership_changelist"),
                      {"action": "unlock_login", "_selected_action": [other.pk]})
    assert AccessAttempt.objects.filter(username="lock-other").exists()


def test_the_reset_command_unlocks(company):
    from django.core.management import call_command

    client = client_from("198.51.100.50")
    for n in range(LIMIT):
        login(client, "lock-clerk", f"guess-{n}")
    assert locked(login(client, "lock-clerk", PASSWORD))
    call_command("axes_reset_username", "lock-clerk")
    call_command("axes_reset_ip", "198.51.100.50")
    assert login(client, "lock-clerk", PASSWORD).status_code == 302


def test_signup_refusals_lock_the_address(company):
    client = client_from("198.51.100.60")
    taken = {"company": "Probe", "username": "lock-owner", "email": "p@example.com", "password": "Probe-pw-2024x"}
    answers = [client.post(reverse("signup"), {**taken, "company": f"Probe {n}"}) for n in range(LIMIT + 1)]
    assert all(a.status_code == 200 for a in answers[: LIMIT - 1])
    assert locked(answers[-1])
    fresh = {"company": "Real Co", "username": "real-owner", "email": "r@example.com", "password": "Real-pw-2024x"}
    assert locked(client.post(reverse("signup"), fresh))  # even a good one, while locked
    # the usernames that were probed are not locked by signups
    assert login(client_from("198.51.100.61"), "lock-owner", PASSWORD).status_code == 302
    # another address signs up
    assert client_from("198.51.100.62").post(reverse("signup"), fresh).status_code == 302


def test_api_tokens_are_not_password_logins(company):
    """The API takes a token; no API route authenticates a username and password, so guessing
    through the API is not possible (the token throttle limits the rest)."""
    from django.urls import get_resolver

    def walk(patterns, prefix=""):
        for p in patterns:
            if hasattr(p, "url_patterns"):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            else:
                yield prefix + str(p.pattern), p.callback

    api_views = [(route, cb) for route, cb in walk(get_resolver().url_patterns) if route.startswith("api/")]
    assert api_views
    names = {getattr(cb, "cls", cb).__name__ for _, cb in api_views if hasattr(cb, "cls") or callable(cb)}
    assert not {"ObtainAuthToken", "TokenObtainPairView", "LoginView"} & names
    response = client_from("198.51.100.70").post("/api/v1/me/", {"username": "lock-owner", "password": PASSWORD})
    assert response.status_code in (401, 403, 405)
