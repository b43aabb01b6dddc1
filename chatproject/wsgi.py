"""WSGI entry point, for tools that want one; the server is ASGI (daphne)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatproject.settings")
application = get_wsgi_application()
