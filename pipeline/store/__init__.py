"""Stores: where scored posts, accounts, reviews and checkpoints live, behind one protocol."""

from pipeline.store.base import Store

__all__ = ["Store"]
