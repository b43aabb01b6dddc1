"""Settings for the chat project, read from the environment: what
DJANGO_SETTINGS_MODULE=chatproject.settings loads (manage.py, asgi.py,
wsgi.py, deploy/, bench/). Tests run on chatproject.settings.test.

The embedded defaults (no variables set) give a development server on SQLite
with the in-memory channel layer; production sets DATABASE_URL, REDIS_URL,
DJANGO_SECRET_KEY and turns DJANGO_DEBUG off. Every variable is in
docs/operations.md "Configuration" and deploy/chat.env.example; the modules read
them through chatproject/settings/environment.py.

One module per subject, evaluated in the order below: base first, so that DEBUG
off without a DJANGO_SECRET_KEY is refused before anything else is read. A
module that needs an earlier value imports it from the module that defines it.
"""

# In the order of evaluation, not sorted.
# isort: off
from chatproject.settings.base import *  # noqa: F403
from chatproject.settings.database import *  # noqa: F403
from chatproject.settings.channels import *  # noqa: F403
from chatproject.settings.limits import *  # noqa: F403
from chatproject.settings.storage import *  # noqa: F403
from chatproject.settings.security import *  # noqa: F403
from chatproject.settings.logging import *  # noqa: F403
