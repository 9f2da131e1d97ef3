"""What the Raspberry Pi under the daemon says of itself, sans I/O where it can be.

| module | its one job |
|---|---|
| ``mounts.py`` | which mount holds a path, and whether it survives a power cut (pure) |
| ``power.py`` | the firmware's throttled flags (pure decoder) and a poller over them |
| ``watchdog.py`` | whether a hardware watchdog is armed, from sysfs (pure over a reader) |
| ``timesync.py`` | whether the clock is synchronised (NTP) |
| ``monitor.py`` | the five checks as ``_device`` findings and heartbeat facts, over ``now`` |

Every reader is injected (:class:`~edge.platform.monitor.Probe`): tests give a fake sysfs
tree in a temporary folder; nothing here reads the clock.
"""
