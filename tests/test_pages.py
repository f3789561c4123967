"""The project's own pages through Django's test client: login, logout, password change, signup,
dashboard (tenant time zone, language), tenant switch, the admin pages of the tenancy app, API docs."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from erp.tenancy.models import Membership, Tenant
from erp.tenancy.roles import Role
from erp.tenancy.services import membership_add, tenant_create

pytestmark = pytest.mark.django_db
PASSWORD = "Pages-pw-2024"


@pytest.fixture
def owner_client():
    tenant = tenant_create(name="Pages Co", slug="pages-co", owner_username="pages-owner", owner_password=PASSWORD,
                           timezone_name="America/New_York")
    client = Client()
    assert client.login(username="pages-owner", password=PASSWORD)
    return client, tenant


def text(response) -> str:
    return response.content.decode()


def test_login_page_and_wrong_password_is_a_form_error():
    client = Client()
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert 'id="login-submit"' in text(response)
    response = client.post(reverse("login"), {"username": "nobody", "password": "wrong"})
    assert response.status_code == 200
    assert 'class="alert"' in text(response)


def test_login_redirects_to_dashboard(owner_client):
    tenant_create(name="Login Co", slug="login-co", owner_username="login-user", owner_password=PASSWORD)
    client = Client()
    response = client.post(reverse("login"), {"username": "login-user", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    assert "Login Co" in text(client.get(reverse("dashboard")))


def test_dashboard_needs_login():
    response = Client().get(reverse("dashboard"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_dashboard_shows_time_in_the_tenant_time_zone(owner_client):
    client, tenant = owner_client
    before = datetime.now(ZoneInfo("America/New_York"))
    body = text(client.get(reverse("dashboard")))
    after = datetime.now(ZoneInfo("America/New_York"))
    assert '<span id="tenant-tz">America/New_York</span>' in body
    offset = re.search(r'id="tenant-offset">([^<]+)<', body).group(1)
    assert offset in {before.strftime("%z"), after.strftime("%z")}
    shown = re.search(r'id="tenant-time">([^<]+)<', body).group(1)
    assert shown in {before.strftime("%Y-%m-%d %H:%M"), after.strftime("%Y-%m-%d %H:%M")}
    assert "Times are shown in America/New_York." in body


def test_dashboard_in_chinese(owner_client):
    client, _ = owner_client
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert response.status_code == 302
    body = text(client.get(reverse("dashboard")))
    assert '<html lang="zh-hans">' in body
    assert "工作台" in body and "快捷入口" in body and "所有者" in body


def test_user_without_company_sees_no_company_page():
    get_user_model().objects.create_user("lonely", password=PASSWORD)
    client = Client()
    client.login(username="lonely", password=PASSWORD)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 403
    assert "No company" in text(response)


def test_logout_is_a_post(owner_client):
    client, _ = owner_client
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert client.get(reverse("dashboard")).status_code == 302


def test_password_change(owner_client):
    client, _ = owner_client
    assert client.get(reverse("password_change")).status_code == 200
    response = client.post(reverse("password_change"),
                           {"old_password": "wrong", "new_password1": "x", "new_password2": "y"})
    assert response.status_code == 200
    assert response.context["form"].errors["old_password"]
    response = client.post(reverse("password_change"), {"old_password": PASSWORD, "new_password1": "New-pages-pw-99",
                                                        "new_password2": "New-pages-pw-99"})
    assert response.status_code == 302 and response["Location"] == reverse("password_change_done")
    assert client.get(reverse("password_change_done")).status_code == 200
    assert Client().login(username="pages-owner", password="New-pages-pw-99")


def test_signup_creates_company_and_logs_in():
    client = Client()
    assert client.get(reverse("signup")).status_code == 200
    response = client.post(reverse("signup"), {"company": "Shiny Goods Ltd", "slug": "", "username": "shiny",
                                               "email": "boss@shiny.example", "password": "Shiny-pw-2024"})
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    tenant = Tenant.objects.get(slug="shiny-goods-ltd")
    membership = Membership.objects.get(tenant=tenant, user__username="shiny")
    assert membership.role == Role.OWNER
    assert client.session["tenant_id"] == tenant.pk
    body = text(client.get(reverse("dashboard")))
    assert "Shiny Goods Ltd" in body and "Welcome! Your company Shiny Goods Ltd is ready." in body


def test_signup_validation_errors_are_form_errors():
    tenant_create(name="Taken Co", slug="taken", owner_username="taken-user", owner_password=PASSWORD)
    client = Client()
    response = client.post(reverse("signup"), {"company": "Taken", "slug": "", "username": "Taken-User",
                                               "email": "not-an-email", "password": "123"})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"company", "username", "email", "password"}
    assert "A company with this short name exists." in errors["company"]
    assert "This username is taken." in errors["username"]
    assert 'class="errorlist"' in text(response)
    # A name without Latin letters needs a short name of its own.
    response = client.post(reverse("signup"), {"company": "北方电商", "slug": "", "username": "north",
                                               "email": "a@b.example", "password": "North-pw-2024"})
    assert response.status_code == 200
    assert response.context["form"].errors["slug"]
    response = client.post(reverse("signup"), {"company": "北方电商", "slug": "bad slug!", "username": "north",
                                               "email": "a@b.example", "password": "North-pw-2024"})
    assert response.status_code == 200 and "slug" in response.context["form"].errors
    response = client.post(reverse("signup"), {})
    assert response.status_code == 200 and "company" in response.context["form"].errors
    assert not Tenant.objects.filter(name="北方电商").exists()


def test_tenant_switch(owner_client):
    client, tenant = owner_client
    other = tenant_create(name="Second Co", slug="second-co", owner_username="second-owner")
    membership_add(tenant=other, username="pages-owner", role=Role.OPERATOR)
    foreign = tenant_create(name="Foreign Co", slug="foreign-co", owner_username="foreign-owner")
    body = text(client.get(reverse("dashboard")))
    assert 'id="tenant-select"' in body and "Second Co" in body and "Foreign Co" not in body

    response = client.post(reverse("switch-tenant"), {"tenant": other.pk, "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.session["tenant_id"] == other.pk
    assert "Operator" in text(client.get(reverse("dashboard")))

    response = client.post(reverse("switch-tenant"), {"tenant": foreign.pk, "next": "//evil.example/"}, follow=True)
    assert response.redirect_chain[0][0] == "/"
    assert client.session["tenant_id"] == other.pk
    assert "You are not a member of that tenant." in text(response)


def test_admin_pages_for_owner(owner_client):
    client, tenant = owner_client
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    body = text(index)
    assert "Company &amp; staff" in body  # translated app title (erp/admin_nav.py)
    assert f'href="{reverse("dashboard")}"' in body  # the way back to the operator pages
    for url in (
        reverse("admin:tenancy_membership_changelist"),
        reverse("admin:tenancy_membership_add"),
        reverse("admin:tenancy_tenant_changelist"),
        reverse("admin:tenancy_tenant_change", args=[tenant.pk]),
    ):
        assert client.get(url).status_code == 200, url


def test_admin_closed_to_a_user_without_company():
    get_user_model().objects.create_user("outsider", password=PASSWORD)
    client = Client()
    client.login(username="outsider", password=PASSWORD)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_api_docs(owner_client):
    client, _ = owner_client
    assert client.get(reverse("api-docs")).status_code == 200


def test_navigation_groups_an_apps_pages_into_one_menu_by_role(owner_client):
    client, tenant = owner_client
    body = client.get(reverse("dashboard")).content.decode()
    nav = body[body.index('class="mainnav"'):body.index("</nav>")]
    assert 'data-app="inventory"' in nav and reverse("inventory:locks") in nav  # several pages: a menu
    assert 'data-app="analytics"' not in nav and reverse("analytics:bigscreen") in nav  # one page: a plain link
    assert 'data-app="orders"' in nav and reverse("orders:reports") in nav  # two pages: a menu
    # every purpose-built page of the apps is in the navigation, not only behind another page's links
    for name in ("members:coupons", "members:rewards", "members:campaigns", "members:dashboard", "warehouse:waves",
                 "warehouse:pack", "warehouse:parcels", "warehouse:wms", "finance:trial-balance", "finance:profit",
                 "finance:balance-sheet", "finance:cash-flow", "purchasing:notifications", "inventory:health",
                 "aftersales:report"):
        assert f'href="{reverse(name)}"' in nav, name
    membership_add(tenant=tenant, username="pages-wh", role=Role.WAREHOUSE, password=PASSWORD)
    warehouse = Client()
    assert warehouse.login(username="pages-wh", password=PASSWORD)
    nav = warehouse.get(reverse("dashboard")).content.decode()
    assert reverse("finance:vouchers") not in nav and reverse("inventory:stock") in nav


def test_forbidden_and_missing_pages_are_the_projects_own_in_its_language(owner_client):
    """A page the role may not open (403) and a record that is not there (404) answer with the site's
    page (navigation, language switch, a way back), not the server's bare 'Forbidden' text."""
    client, tenant = owner_client
    membership_add(tenant=tenant, username="pages-wh2", role=Role.WAREHOUSE, password=PASSWORD)
    warehouse = Client()
    assert warehouse.login(username="pages-wh2", password=PASSWORD)
    forbidden = warehouse.get(reverse("finance:vouchers"))
    assert forbidden.status_code == 403
    assert 'id="forbidden"' in text(forbidden) and 'class="mainnav"' in text(forbidden)
    missing = warehouse.get(reverse("orders:detail", args=[999999999]))
    assert missing.status_code == 404 and 'id="not-found"' in text(missing)
    warehouse.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert '<html lang="zh-hans">' in text(warehouse.get(reverse("finance:vouchers")))
