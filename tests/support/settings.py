"""The production settings as a server process would load them, in this process."""

import importlib
import sys

PACKAGE = "chatproject.settings"


def settings_modules() -> dict[str, object]:
    return {
        name: module
        for name, module in sys.modules.items()
        if name == PACKAGE or name.startswith(f"{PACKAGE}.")
    }


def load_production_settings() -> dict[str, object]:
    """Every setting of chatproject.settings, imported anew under the
    environment as it is now (a test's monkeypatch.setenv). The modules this
    test run loaded its own settings from are put back afterwards."""
    loaded = settings_modules()
    for name in loaded:
        del sys.modules[name]
    try:
        fresh = importlib.import_module(PACKAGE)
        return {name: value for name, value in vars(fresh).items() if name.isupper()}
    finally:
        for name in settings_modules():
            del sys.modules[name]
        sys.modules.update(loaded)
        sys.modules["chatproject"].settings = loaded[PACKAGE]
