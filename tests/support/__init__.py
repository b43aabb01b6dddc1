"""Helpers shared by tests and by the conftest.py fixtures. Tests import
helpers from here, never from another test module or from a conftest."""
