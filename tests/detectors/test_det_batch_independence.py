"""A post's verdict must not depend on the batch it is scored in: the embedded runner
and the faust workers batch differently, and both must give the same verdicts."""

import json
import random
from pathlib import Path

from detectors import Detector

REPO = Path(__file__).resolve().parents[2]
DEV = REPO / "detectors" / "corpus" / "dev.jsonl"
FEED = REPO / "collectors" / "samples" / "feed.jsonl"


def test_verdicts_are_identical_alone_single_and_in_batches_of_any_size():
    detector = Detector()
    texts = [json.loads(line)["text"] for line in DEV.read_text("utf-8").splitlines()]
    alone = [detector.detect_many([(text, None)])[0] for text in texts]
    assert [detector.detect(text) for text in texts] == alone
    rng = random.Random(3)
    for size in (5, 64, 200):
        order = list(range(len(texts)))
        rng.shuffle(order)
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            batch = detector.detect_many([(texts[i], None) for i in chunk])
            for i, verdict in zip(chunk, batch, strict=True):
                assert verdict == alone[i], (size, texts[i][:40])


def test_detect_and_detect_many_agree_on_every_labeled_post_with_bios():
    detector = Detector()
    corpus = DEV.parent
    records = [
        json.loads(line)
        for path in (corpus / "train.jsonl", corpus / "dev.jsonl", FEED)
        for line in path.read_text("utf-8").splitlines()
    ]
    pairs = [(r["text"], r.get("author_bio")) for r in records]
    assert [detector.detect(text, bio) for text, bio in pairs] == detector.detect_many(pairs)
