"""A one-file Django project served through get_asgi_application(): a JSON view, a view
reading a POSTed body, and Django's own URL routing."""
import json

import django
from django.conf import settings
from django.http import JsonResponse
from django.urls import path

settings.configure(
    DEBUG=False,
    SECRET_KEY="runicorn-tests-only",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
)
django.setup()


def hello(request, name):
    return JsonResponse({"hello": name, "method": request.method, "path": request.path,
                         "q": request.GET.get("q")})


def echo(request):
    data = json.loads(request.body or b"{}")
    return JsonResponse({"echo": data, "length": len(request.body)})


urlpatterns = [path("hello/<str:name>", hello), path("echo", echo)]

from django.core.asgi import get_asgi_application  # noqa: E402

application = get_asgi_application()
