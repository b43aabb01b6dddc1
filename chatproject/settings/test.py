"""Settings of a test run: pyproject.toml points pytest's DJANGO_SETTINGS_MODULE
here. The production settings (chatproject.settings, read from the same
environment), plus what only tests need. Servers that tests start in their own
processes (tests/support/live_server.py) load chatproject.settings, as a deployment does.
"""

import atexit
import copy
import os
import shutil
import tempfile

from chatproject.settings import *  # noqa: F403
from chatproject.settings import DATABASES, VAR_DIR
from chatproject.settings.environment import env_str

# A copy: chatproject.settings itself stays as a server loads it.
DATABASES = copy.deepcopy(DATABASES)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so that tests with threads share it; one per test
    # run, so that runs side by side do not wipe each other's.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
    VAR_DIR.mkdir(exist_ok=True)
# The test database of a run on PostgreSQL, so that runs side by side on one
# server (DATABASE_URL) do not drop each other's; Django's test_<name> otherwise.
if env_str("CHAT_TEST_DB_NAME"):
    DATABASES["default"].setdefault("TEST", {})["NAME"] = env_str("CHAT_TEST_DB_NAME")

# Argon2 is slow on purpose, and most tests create users; the tests of the
# hashing itself set the production hashers back (chatproject/tests/test_security.py).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Attachments of a test run in a directory of its own, removed when it ends
# (the S3 tests set their own storage: tests/integration/test_attachments_s3.py).
if STORAGES["attachments"]["BACKEND"].endswith("FileSystemStorage"):  # noqa: F405
    TEST_ATTACHMENTS_DIR = tempfile.mkdtemp(prefix="chat-test-attachments-")
    atexit.register(shutil.rmtree, TEST_ATTACHMENTS_DIR, ignore_errors=True)
    STORAGES = copy.deepcopy(STORAGES)  # noqa: F405
    STORAGES["attachments"]["OPTIONS"]["location"] = TEST_ATTACHMENTS_DIR
