"""Fixtures of the seed contract tests: workspaces and their API keys."""

import pytest
from rest_framework.test import APIClient

from tests.support.compat import Key
from workspaces.models import Workspace
from workspaces.services import create_api_key, create_workspace


@pytest.fixture
def workspace(db) -> Workspace:
    return Workspace.objects.default()


@pytest.fixture
def other_workspace(db) -> Workspace:
    return create_workspace(name="Other company", slug="other-company")


@pytest.fixture
def key(workspace) -> Key:
    return Key(*create_api_key(workspace=workspace, name="contract tests"))


@pytest.fixture
def other_key(other_workspace) -> Key:
    return Key(*create_api_key(workspace=other_workspace, name="other company"))


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()
