"""The demo site in headless Chromium: a visit, client-side navigation, a click and a signup arrive linked."""

import time
from io import StringIO

import pytest
from django.core.management import call_command

from analytics.models import Event, Pageview
from identity.models import EndUser
from identity.selectors import demo_environment_get

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_visit_to_the_demo_site_is_recorded_and_linked_at_signup(chromium, live_server):
    call_command("bootstrap_demo", stdout=StringIO())
    environment = demo_environment_get()
    context = chromium.new_context()
    page = context.new_page()
    console_errors = []
    page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
    page.on("pageerror", lambda error: console_errors.append(str(error)))

    page.goto(live_server.url + "/demo/?utm_source=demo")
    page.click("nav >> text=Pricing")
    page.click("[data-plan=pro]")
    page.click("nav >> text=Sign up")
    page.fill("input[name=email]", "grace@example.com")
    page.fill("input[name=password]", "a-long-passphrase-9")
    page.click("#signup button[type=submit]")
    page.wait_for_selector("#account:has-text('Signed up as usr_')")
    visitor_id = page.evaluate("AscendKit.visitorId()")
    page.click("#flush")
    page.wait_for_selector("#log li:has-text('sent')")

    user = EndUser.objects.get(environment=environment, email="grace@example.com")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Pageview.objects.filter(environment=environment, user=user).count() < 3:
        time.sleep(0.1)
    paths = list(Pageview.objects.filter(environment=environment).order_by("timestamp").values_list("path", flat=True))
    assert paths == ["/demo/", "/demo/pricing", "/demo/signup"]
    assert set(Pageview.objects.filter(environment=environment).values_list("user", flat=True)) == {user.id}
    event = Event.objects.get(environment=environment, name="app.plan_chosen")
    assert event.properties == {"plan": "pro"} and event.user_id == user.id
    assert event.visitor.public_id == visitor_id
    assert console_errors == []
    context.close()
