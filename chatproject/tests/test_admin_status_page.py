"""The staff status page lives inside the admin: linked from its index,
drawn in its header with breadcrumbs back to it."""

import pytest

pytestmark = pytest.mark.django_db

STATUS_URL = "/admin/status/"


def test_the_admin_index_links_the_status_page(admin_client):
    html = admin_client.get("/admin/").content.decode()
    assert f'<a href="{STATUS_URL}">Chat status</a>' in html


def test_the_status_page_has_the_admin_header_and_breadcrumbs(admin_client):
    response = admin_client.get(STATUS_URL)
    html = response.content.decode()
    assert response.status_code == 200
    assert '<header id="header">' in html
    assert '<div id="site-name"><a href="/admin/">' in html
    assert '<div id="user-tools">' in html and 'action="/admin/logout/"' in html
    assert '<div class="breadcrumbs">' in html
    assert '<a href="/admin/">Home</a>' in html and "&rsaquo; Chat status" in html
    assert "<h1>Chat status</h1>" in html
    assert "<h2>Channel layer</h2>" in html
