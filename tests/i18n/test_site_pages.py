"""The site's entry and error pages: `/` leads to the staff home, error pages are the portal's own
(in Chinese or English, never Django's technical pages with DEBUG off), and the API docs pages
name no other host."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import include, path

from apps.core.roles import Role
from tests.factories import staff

pytestmark = pytest.mark.django_db


def _boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug in a view")


# This module doubles as a URL conf: the portal's URLs plus one view that fails.
urlpatterns = [path("boom/", _boom), path("", include("config.urls"))]


def test_root_sends_a_visitor_to_the_login_page_of_the_staff_home(client):
    response = client.get("/", follow=True)
    assert response.redirect_chain[0] == ("/admin/", 302)
    assert response.request["PATH_INFO"] == "/admin/login/"


def test_root_and_view_site_lead_a_logged_in_clerk_to_the_staff_home(client):
    client.force_login(staff(Role.CATALOG_ADMIN, username="clerk"))
    assert client.get("/", follow=True).redirect_chain == [("/admin/", 302)]
    page = client.get("/admin/").content.decode()
    view_site = re.search(r'<a href="([^"]*)">(?:View site|查看站点)</a>', page)
    assert view_site and client.get(view_site.group(1)).url == "/admin/"


@override_settings(DEBUG=False)
@pytest.mark.parametrize(("language", "heading"), [("zh-hans", "页面不存在"), ("en", "Page not found")])
def test_unknown_address_is_the_portals_404_page_in_the_visitors_language(client, language, heading):
    response = client.get("/no/such/page/", HTTP_ACCEPT_LANGUAGE=language)
    page = response.content.decode()
    assert response.status_code == 404
    assert 'data-status="404"' in page and heading in page
    assert "URLconf" not in page and "api/v1/" not in page  # no list of URL patterns


@override_settings(DEBUG=False)
@pytest.mark.parametrize(("language", "heading"), [("zh-hans", "无权访问"), ("en", "Access denied")])
def test_a_page_the_role_may_not_use_is_the_portals_403_page(client, language, heading):
    client.force_login(staff(Role.CATALOG_ADMIN, username="clerk"))
    client.cookies["django_language"] = language
    response = client.get("/admin/pooling/fundaccount/overview/")
    assert response.status_code == 403
    assert 'data-status="403"' in response.content.decode() and heading in response.content.decode()


@override_settings(DEBUG=False, ROOT_URLCONF=__name__)
@pytest.mark.parametrize(("language", "heading"), [("zh-hans", "服务器出错了"), ("en", "Something went wrong on our side")])
def test_a_failing_view_is_the_portals_500_page_without_the_traceback(language, heading):
    client = Client(raise_request_exception=False)
    response = client.get("/boom/", HTTP_ACCEPT_LANGUAGE=language)
    page = response.content.decode()
    assert response.status_code == 500
    assert 'data-status="500"' in page and heading in page
    assert "RuntimeError" not in page and "Traceback" not in page


def test_production_settings_never_show_the_technical_pages():
    # The module itself says so (it needs production's environment to be imported).
    source = (Path(__file__).resolve().parents[2] / "config" / "settings" / "production.py").read_text()
    assert re.search(r"^DEBUG = False$", source, re.M)


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_api_docs_pages_load_scripts_styles_and_icons_from_this_site_only(client, url):
    page = client.get(url).content.decode()
    references = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)', page)
    assert any("drf_spectacular_sidecar" in ref for ref in references)
    assert [ref for ref in references if urlsplit(ref).netloc or ref.startswith("//")] == []
