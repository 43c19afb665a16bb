"""The cyclic garbage collector, set for a process that streams posts for hours.

Why: measured with ``gc.callbacks`` in a ``radar worker`` (``bench/README.md``), CPython's
default collector took about a tenth of the worker's CPU. Every post allocates dozens of
container objects (the decoded post, its verdict, evidence, the account fold), so the
default first-generation threshold (700 net allocations) runs a collection every few
posts, and each full collection walks the ~400,000 objects start-up created (lexicon,
detector model, faust, aiokafka) although none of them will ever be garbage. py-spy
charged the collections to whatever line allocated at that moment, message decoding
above all.

Almost nothing the pipeline allocates is in a reference cycle: posts and verdicts die by
reference counting when their batch is done. So after start-up the start-up objects are
frozen out of the collector's sight (``gc.freeze``), and the first generation collects
after 50,000 net allocations instead of 700: cyclic garbage is still found, in fewer,
larger sweeps over young objects only. The cost is that cyclic garbage waits longer: up
to 50,000 allocations, about what one batch of posts holds anyway.
"""

from __future__ import annotations

import gc

# (first generation, second, third): 50,000 net container allocations is about one
# 500-post batch; the older generations keep CPython's ratios.
STREAMING_THRESHOLDS = (50_000, 10, 10)


def tune_for_streaming() -> None:
    """Call once start-up is done (settings read, detector loaded, app built), before
    the first post: what exists then is frozen for the life of the process."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*STREAMING_THRESHOLDS)
