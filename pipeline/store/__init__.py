"""Stores: where scored posts, accounts, reviews and checkpoints live, behind one protocol."""

from pipeline.store.base import Store
from pipeline.store.sqlite import SqliteStore

__all__ = ["SqliteStore", "Store"]
