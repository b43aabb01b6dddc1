"""Helpers shared by tests (imported by tests, never by conftest or other test modules)."""
