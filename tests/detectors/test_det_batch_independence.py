"""A post's verdict must not depend on the batch it is scored in: the embedded runner
and the faust workers batch differently, and both must give the same verdicts."""

import json
import random
from pathlib import Path

from detectors import Detector

DEV = Path(__file__).resolve().parents[2] / "detectors" / "corpus" / "dev.jsonl"


def test_verdicts_are_identical_alone_and_in_batches_of_any_size():
    detector = Detector()
    texts = [json.loads(line)["text"] for line in DEV.read_text("utf-8").splitlines()][:200]
    alone = [detector.detect_many([(text, None)])[0] for text in texts]
    rng = random.Random(3)
    for size in (5, 64, 200):
        order = list(range(len(texts)))
        rng.shuffle(order)
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            batch = detector.detect_many([(texts[i], None) for i in chunk])
            for i, verdict in zip(chunk, batch, strict=True):
                assert verdict == alone[i], (size, texts[i][:40])
