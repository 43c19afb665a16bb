"""Fixtures for the dashboard tests (the fake store lives in ``dash_fakes``)."""

from __future__ import annotations

import httpx
import pytest
from dash_fakes import FakeStore, seed

from dashboards.app import create_app


@pytest.fixture
async def store() -> FakeStore:
    fake = FakeStore()
    await seed(fake)
    return fake


@pytest.fixture
async def client(store: FakeStore):
    async def status() -> dict:
        return {"running": True, "queues": {"detect": 3, "store": 0}}

    app = create_app(store, status_provider=status)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://radar.test") as c:
        yield c
