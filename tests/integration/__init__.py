"""Tests against real daphne processes sharing PostgreSQL and Redis."""
