"""The demo site that `make run` serves at /demo/: a customer's site with only the script tag.

It sends to the demo environment that `manage.py bootstrap_demo` makes. Only the
public env key reaches the page.
"""

from django.http import Http404
from django.shortcuts import render

from identity.selectors import demo_environment_get

# The site's pages: path name -> title. Navigation between them is client-side.
PAGES = {"home": "Home", "pricing": "Pricing", "docs": "Docs", "signup": "Sign up"}


def page(request, name: str = "home"):
    if name not in PAGES:
        raise Http404("No such demo page.")
    environment = demo_environment_get()
    context = {
        "env_key": environment.env_key if environment else None,
        "environment": environment,
        "pages": PAGES,
        "title": PAGES[name],
    }
    return render(request, "demo/page.html", context)
