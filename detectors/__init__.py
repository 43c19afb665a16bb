"""Detection of 代理维权 black-market posts and accounts.

Public surface: :class:`Detector` (one post → :class:`pipeline.models.Verdict`),
:mod:`detectors.accounts` (account risk, rings) and :mod:`detectors.evaluate` (metrics).
"""

from detectors.detector import Detector

__all__ = ["Detector"]
