"""Settings of the scale-out stream (the ``[stream.kafka]`` table of radar.toml).

Like the Elasticsearch settings, secrets never live here: ``sasl.username_env`` and
``sasl.password_env`` name the environment variables that hold them, so the file can be
committed and a Kubernetes Secret fills the variables.

``brokers`` accepts a list in the file or one comma-separated string (``RADAR_STREAM__KAFKA
__BROKERS=k1:9092,k2:9092``), because the environment has no lists.
"""

from __future__ import annotations

import os
import ssl
from typing import Literal

import msgspec

from pipeline.post_bundles import DEFAULT_BUNDLE_BYTES, DEFAULT_BUNDLE_POSTS

# Topic names are part of the contract (DESIGN.md); every one is keyed by account key.
POSTS_TOPIC = "radar.posts.raw"
VERDICTS_TOPIC = "radar.verdicts"
ACCOUNTS_TOPIC = "radar.accounts"  # the account table's changelog (compacted)
ALERTS_TOPIC = "radar.alerts"


class _Section(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


class SaslSettings(_Section):
    mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    # Not RADAR_*: those are settings overrides, and an unknown one is an error.
    username_env: str = "KAFKA_USERNAME"
    password_env: str = "KAFKA_PASSWORD"  # noqa: S105 - the variable's name, not a secret

    def credentials(self) -> tuple[str, str]:
        return _secret(self.username_env), _secret(self.password_env)


class TlsSettings(_Section):
    cafile: str | None = None
    certfile: str | None = None  # client certificate (mutual TLS)
    keyfile: str | None = None

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.cafile)
        if self.certfile:
            context.load_cert_chain(self.certfile, self.keyfile)
        return context


class KafkaSettings(_Section):
    brokers: list[str] | str = msgspec.field(default_factory=lambda: ["127.0.0.1:9092"])
    # The faust app id: the consumer group of every `radar worker`, and the prefix of
    # faust's internal topics. Workers with the same id share the partitions.
    group_id: str = "radar"
    sasl: SaslSettings | None = None
    tls: TlsSettings | None = None
    # Partitions bound the useful number of workers (the HPA's maximum); changing them
    # later moves accounts between partitions, so choose generously.
    partitions: int = 12
    replication: int = 1
    # "memory": rebuilt from the changelog at every start (tests, small deployments);
    # "rocksdb": on local disk via rocksdict (production; needs the `rocksdb` extra).
    table_store: Literal["memory", "rocksdb"] = "memory"
    # Where RocksDB tables live (relative to data_dir unless absolute).
    state_dir: str = "faust-state"
    # The collector's producer: acks=all always; idempotence (no duplicates on a retried
    # send) where the brokers support it (tansu, the test broker, does not).
    producer_idempotence: bool = True
    # Faust refuses to recover a table whose local offset is past the changelog's end
    # (stale RocksDB files). Keep it on.
    recovery_consistency_check: bool = True
    # Workers that keep a warm copy of each other partition's account table (read from
    # its changelog), so a partition moving to them needs no replay. 0 saves the reads;
    # the tests run with 0: on tansu, standby recovery after a SIGKILL sometimes seeks a
    # negative offset and stops the worker.
    standby_replicas: int = 1
    # The workers' producer batch limit (bytes). Leave it to Kafka's default; tansu 0.6
    # reports a topic's end as the last *batch*'s first offset + 1, so table recovery
    # would stop short of the changelog's last batch: the tests set 1 (one record per
    # batch) to make its answer exact.
    producer_max_batch_bytes: int = 16384
    # Every verdict on radar.verdicts for downstream consumers (the store has them all
    # anyway), bundled like posts: each message a ScoredPost or an array of them.
    publish_verdicts: bool = True
    # Posts per radar.posts.raw message from `radar collect` (pipeline/post_bundles.py):
    # a worker pays faust's per-message cost once per bundle. 1 = one post per message.
    bundle_posts: int = DEFAULT_BUNDLE_POSTS
    # Bytes per bundle, under the brokers' message.max.bytes (1 MiB by default).
    bundle_max_bytes: int = DEFAULT_BUNDLE_BYTES
    # Posts the worker scores and writes at a time (a bundle may be split across two).
    batch_size: int = 500
    batch_timeout_seconds: float = 0.5
    # Messages a worker takes from radar.posts.raw at once; their offsets commit only after
    # the whole take is stored, so this bounds what a crash replays and how long lag waits
    # to move: 100 bundles of 100 posts are 10,000 posts per partition (with one post per
    # message, 100 posts; every take costs a changelog flush and an ack, bench/README.md).
    take_messages: int = 100
    # Faust's defaults add ~30 s to every start and rebalance; these keep failover fast.
    session_timeout_seconds: float = 10.0
    heartbeat_interval_seconds: float = 1.0
    commit_interval_seconds: float = 1.0
    # Store write retries: first delay, doubling up to the cap, forever (never ack).
    retry_initial_seconds: float = 0.5
    retry_max_seconds: float = 30.0

    def __post_init__(self) -> None:
        if isinstance(self.brokers, str):
            self.brokers = [b.strip() for b in self.brokers.split(",") if b.strip()]
        if not self.brokers:
            raise ValueError("stream.kafka.brokers must name at least one broker")
        if self.partitions < 1 or self.replication < 1:
            raise ValueError("stream.kafka: partitions and replication must be >= 1")
        if self.standby_replicas < 0:
            raise ValueError("stream.kafka: standby_replicas must be >= 0")
        if self.batch_size < 1 or self.batch_timeout_seconds <= 0 or self.take_messages < 1:
            raise ValueError(
                "stream.kafka: batch_size >= 1, take_messages >= 1 and batch_timeout_seconds > 0"
            )
        if self.bundle_posts < 1 or self.bundle_max_bytes < 1024:
            raise ValueError("stream.kafka: bundle_posts >= 1 and bundle_max_bytes >= 1024")

    @property
    def broker_list(self) -> list[str]:
        return [self.brokers] if isinstance(self.brokers, str) else list(self.brokers)

    def security_protocol(self) -> str:
        if self.sasl is not None:
            return "SASL_SSL" if self.tls is not None else "SASL_PLAINTEXT"
        return "SSL" if self.tls is not None else "PLAINTEXT"

    def aiokafka_options(self) -> dict[str, object]:
        """Connection options for a plain aiokafka client (the publisher, the bench)."""
        options: dict[str, object] = {
            "bootstrap_servers": ",".join(self.broker_list),
            "security_protocol": self.security_protocol(),
        }
        if self.tls is not None:
            options["ssl_context"] = self.tls.context()
        if self.sasl is not None:
            username, password = self.sasl.credentials()
            options["sasl_mechanism"] = self.sasl.mechanism
            options["sasl_plain_username"] = username
            options["sasl_plain_password"] = password
        return options


def _secret(env_name: str) -> str:
    value = os.environ.get(env_name)
    if value is None:
        raise ValueError(f"stream.kafka.sasl: environment variable {env_name} is not set")
    return value
