"""Detector throughput per core on a realistic stream, next to bare Aho-Corasick.

Why: the monitor must keep up with a live stream on one core, and most posts in that
stream are ordinary chatter, so the cost that matters is the *mix*: about one post in ten
carries scheme vocabulary (ads, but also the warnings, news and complaints that quote
them), the rest must go through the fast path. The bare Aho-Corasick pass over the raw
text is the floor: it shows how far the full detector is from "just look the words up".

Posts are generated deterministically (fixed seed) from the labeled corpus (train + dev
only), the demo feed and ordinary chatter fragments, each varied (sentences recombined,
numbers, emoji, hashtags) so no two posts are identical and no cache can help.

Run: ``python bench/detect.py [--posts N] [--batch 500]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import ahocorasick
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detectors import Detector  # noqa: E402

SEED = 20261121
SCHEME_SHARE = 0.1
CORPUS = [ROOT / "detectors/corpus/train.jsonl", ROOT / "detectors/corpus/dev.jsonl"]
FEED = ROOT / "collectors/samples/feed.jsonl"

CHATTER = [
    "今天天气真好，带娃去公园转了一圈",
    "周末终于把那部剧追完了，结局有点仓促",
    "楼下新开了一家面馆，牛肉面分量很足",
    "地铁又晚点了，打工人的早晨太难了",
    "有没有人推荐一下适合新手的跑鞋",
    "刚学会做红烧肉，第一次做居然没翻车",
    "考研上岸了！感谢这一年一直陪着我的室友",
    "猫主子今天又把花盆打翻了，气死我了",
    "这家店的奶茶三分糖刚刚好，不会太腻",
    "周五下班去看了场电影，特效真的震撼",
    "小区门口的桂花开了，整条路都是香的",
    "求推荐性价比高的蓝牙耳机，预算三百左右",
    "今天加班到十点，回家路上吃了碗馄饨",
    "孩子期中考试数学考了九十八，奖励一个冰淇淋",
    "新买的绿植不知道怎么养，叶子有点发黄",
    "健身第三十天打卡，体重掉了四斤",
    "老家的橘子熟了，爸妈寄了一大箱过来",
    "这个视频剪辑得太好了，配乐也很有感觉",
    "国庆去了趟西安，兵马俑真的值得一看",
    "手机屏幕碎了，修一下要四百多，心疼",
    "终于抢到演唱会门票了，激动到睡不着",
    "下雨天就适合在家煮火锅看综艺",
    "分享一个快手早餐：鸡蛋饼加豆浆，十分钟搞定",
    "公司楼下的咖啡店换了新豆子，酸味更明显了",
    "第一次自己换灯泡，成就感满满",
]
EMOJI = ["😂", "👍", "🔥", "😭", "✨", "🙏", "😊", "🌸", "💪", ""]


def load_pools() -> tuple[list[str], list[str]]:
    """Scheme-vocabulary texts (ads and everything that quotes them) and chatter."""
    vocab: list[str] = []
    chatter = list(CHATTER)
    for path in [*CORPUS, FEED]:
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("kind") == "chatter":
                chatter.append(row["text"])
            else:
                vocab.append(row["text"])
    return vocab, chatter


def sentences(text: str) -> list[str]:
    out, cur = [], []
    for ch in text:
        cur.append(ch)
        if ch in "。！？!?\n":
            out.append("".join(cur))
            cur = []
    if cur:
        out.append("".join(cur))
    return [s for s in out if s.strip()]


def make_posts(n: int, seed: int = SEED) -> list[tuple[str, str | None]]:
    """``n`` varied (text, bio) posts, about ``SCHEME_SHARE`` of them with scheme words."""
    rng = random.Random(seed)
    vocab, chatter = load_pools()
    chatter_sentences = [s for t in chatter for s in sentences(t)]
    bios = [None, None, "记录生活", "热爱旅行和美食", "二胎宝妈", "打工人一枚", "读书 跑步 摄影"]
    posts: list[tuple[str, str | None]] = []
    for i in range(n):
        if rng.random() < SCHEME_SHARE:
            parts = sentences(rng.choice(vocab))
            if len(parts) > 2 and rng.random() < 0.5:
                parts = parts[: rng.randint(2, len(parts))]
            text = "".join(parts)
        else:
            text = "".join(rng.choice(chatter_sentences) for _ in range(rng.randint(1, 4)))
        text += f"{rng.choice(EMOJI)}{'#日常' + str(i % 97) if rng.random() < 0.3 else ''}"
        posts.append((text, rng.choice(bios)))
    return posts


class PeakRss:
    """Samples this process's RSS every few milliseconds in a background thread."""

    def __init__(self, interval: float = 0.005) -> None:
        self._proc = psutil.Process()
        self._interval = interval
        self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            time.sleep(self._interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)


def timed(fn: Callable[[], object]) -> float:
    """CPU seconds of this process: "per core" even when other work shares the machine
    (wall time would count the waits for a core)."""
    gc.collect()
    start = time.process_time()
    fn()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--profile", action="store_true", help="cProfile the full detector")
    args = parser.parse_args()
    # the CPU time of one core: pin the process when the platform allows it
    if hasattr(psutil.Process(), "cpu_affinity"):
        psutil.Process().cpu_affinity([psutil.Process().cpu_affinity()[0]])

    rss_start = psutil.Process().memory_info().rss
    posts = make_posts(args.posts)
    chars = sum(len(t) for t, _ in posts)
    with PeakRss() as peak:
        t0 = time.perf_counter()
        detector = Detector()
        startup = time.perf_counter() - t0
        detector.detect_many(posts[:2000])  # warm the lazily filled fold table

        automaton = ahocorasick.Automaton()
        for key in detector._matcher.keys:
            automaton.add_word(key, key)
        automaton.make_automaton()

        def bare() -> None:
            for text, _ in posts:
                for _ in automaton.iter(text):
                    pass

        def analyse() -> None:
            for text, bio in posts:
                detector.analyse(text, bio)

        def analyse_many() -> None:
            for i in range(0, len(posts), args.batch):
                detector.analyse_many(posts[i : i + args.batch])

        flagged = 0

        def full() -> None:
            nonlocal flagged
            for i in range(0, len(posts), args.batch):
                flagged += sum(v.flagged for v in detector.detect_many(posts[i : i + args.batch]))

        if args.profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.runcall(full)
            pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
            return
        t_bare = timed(bare)
        t_analyse = timed(analyse)
        t_many = timed(analyse_many)
        t_full = timed(full)

    n = len(posts)
    print(f"posts: {n:,}  mean length: {chars / n:.0f} chars  flagged: {flagged:,}")
    print(f"detector start-up: {startup * 1000:.0f} ms  ({detector.version})")
    load = psutil.getloadavg()[0] / (psutil.cpu_count() or 1)
    print(f"CPU time of this process; machine load per core during the run: {load:.2f}")
    print()
    print(f"{'stage (one core, CPU time)':<44}{'posts/s':>12}{'µs/post':>10}")
    rows = [
        ("pyahocorasick on raw text (lexicon keys)", t_bare),
        ("Detector.analyse, one post at a time", t_analyse),
        (f"Detector.analyse_many, batches of {args.batch}", t_many),
        (f"Detector.detect_many, batches of {args.batch}", t_full),
    ]
    for name, secs in rows:
        print(f"{name:<44}{n / secs:>12,.0f}{secs / n * 1e6:>10.1f}")
    print()
    print(f"peak RSS: {peak.peak / 2**20:.0f} MB (at start {rss_start / 2**20:.0f} MB)")


if __name__ == "__main__":
    main()
