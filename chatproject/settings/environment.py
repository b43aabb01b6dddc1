"""The one place the settings read the environment.

Every settings module reads its variables through these functions (so that
deploy/chat.env.example can be checked against them,
chatproject/tests/test_deploy_settings.py). An unset variable gives the
default; a number that does not parse (DATABASE_POOL_MAX_SIZE=ten) fails at
start with a ValueError.
"""

import os


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value is None else int(value)


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(default) if value is None else float(value)
