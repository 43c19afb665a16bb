"""Live rings: link stored accounts that share a private contact, on a schedule
(:mod:`.job`, :mod:`.schedule`, :mod:`.settings`, :mod:`.cli`).

Nothing is re-exported: :mod:`pipeline.config` imports :mod:`.settings`, and importing
this package must not drag the detectors and the stores in behind it.
"""
