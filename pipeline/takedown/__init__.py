"""Periodic takedown lists: confirmed accounts → one list per platform, kept in the store,
exported as CSV / XLSX (:mod:`.builder`, :mod:`.export`, :mod:`.job`, :mod:`.schedule`).

Only the schema and the pure builder are re-exported here: the store protocol imports
:mod:`pipeline.takedown.models`, so this package must not import the store back.
"""

from pipeline.models import (
    TakedownEntry,
    TakedownEvidence,
    TakedownList,
    TakedownSummary,
    valid_list_id,
)
from pipeline.takedown.builder import TakedownPlan, build_takedown_lists, human_confirmed

__all__ = [
    "TakedownEntry",
    "TakedownEvidence",
    "TakedownList",
    "TakedownPlan",
    "TakedownSummary",
    "build_takedown_lists",
    "human_confirmed",
    "valid_list_id",
]
