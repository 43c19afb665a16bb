"""Errors of the Elasticsearch store, and the one place that maps client errors to them.

Why a mapping: the runner (and faust agents) must tell "try again later" (cluster down,
overloaded: retry the batch with backoff, commit nothing) from "this data is refused"
(a mapping conflict: retrying the same batch fails the same way). The client's own
exceptions are many and transport-specific; callers see these two.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from elastic_transport import TransportError
from elasticsearch import ApiError
from elasticsearch.helpers import BulkIndexError

from pipeline.store.es_transport import RETRY_STATUSES


class StoreUnavailable(ConnectionError):
    """The store's server cannot take the request now; retrying later may succeed."""


class StoreWriteError(RuntimeError):
    """The server refused some documents for a reason a retry will not fix."""


@contextlib.contextmanager
def guard(what: str) -> Iterator[None]:
    """Run a block of client calls, raising :class:`StoreUnavailable` for what a later
    retry may fix and :class:`StoreWriteError` for refused bulk items."""
    try:
        yield
    except TransportError as exc:  # connection refused / reset, timeout, TLS
        raise StoreUnavailable(f"Elasticsearch unreachable ({what}): {exc}") from exc
    except BulkIndexError as exc:
        statuses = {
            next(iter(e.values()), {}).get("status") for e in exc.errors if isinstance(e, dict)
        }
        if statuses and statuses <= set(RETRY_STATUSES):
            raise StoreUnavailable(f"Elasticsearch overloaded ({what}): {exc}") from exc
        first = exc.errors[0] if exc.errors else {}
        raise StoreWriteError(
            f"Elasticsearch refused {what}: {exc}; first: {str(first)[:500]}"
        ) from exc
    except ApiError as exc:
        if exc.meta.status in RETRY_STATUSES:
            raise StoreUnavailable(f"Elasticsearch unavailable ({what}): {exc}") from exc
        raise
