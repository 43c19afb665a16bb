"""``[takedown]`` settings: when the scheduled job runs and what it covers.

Example::

    [takedown]
    enabled = true
    schedule = "0 9 * * 1"        # cron, in the settings' timezone: Mondays 09:00
    platforms = ["weibo", "douyin"]   # empty: every platform with confirmed accounts
    out_dir = "takedowns"         # also write the files here (relative to data_dir);
                                  # "" keeps them in the store only (the dashboard serves them)
    formats = ["csv", "xlsx"]
"""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo

import msgspec
from apscheduler.triggers.cron import CronTrigger

from collectors.cron import crontab_trigger


class TakedownSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    enabled: bool = True
    schedule: str = "0 9 * * 1"
    platforms: list[str] = msgspec.field(default_factory=list)
    out_dir: str = ""
    formats: list[Literal["csv", "xlsx"]] = msgspec.field(default_factory=lambda: ["csv", "xlsx"])


def takedown_trigger(settings: TakedownSettings, tz: ZoneInfo) -> CronTrigger:
    """The job's trigger (crontab weekdays: 1 = Monday); ValueError for a bad expression."""
    return crontab_trigger(settings.schedule, tz)
