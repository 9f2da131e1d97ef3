"""Which file system holds the store, and whether it is durable.

A store on RAM keeps its promise only until the next power cut: tmpfs and ramfs, a
compressed RAM disk (zram, which carries a real file system type such as ext4), the
Raspberry Pi OS "overlay file system" (an overlay whose upper layer is on tmpfs), or a
read-only image (squashfs) the store cannot even be written to. Parsed from
``/proc/self/mountinfo`` (proc(5)); the reading is the caller's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

RAM_TYPES = frozenset({"tmpfs", "ramfs", "devtmpfs", "rootfs"})
READ_ONLY_TYPES = frozenset({"squashfs", "iso9660", "erofs", "cramfs"})
RAM_SOURCES = re.compile(r"^/dev/(zram|ram)\d+")


@dataclass(frozen=True, slots=True)
class Mount:
    mount_point: str
    fstype: str
    source: str
    super_options: str = ""

    def option(self, name: str) -> str | None:
        for opt in self.super_options.split(","):
            key, _, value = opt.partition("=")
            if key == name:
                return value
        return None


@dataclass(frozen=True, slots=True)
class Durability:
    mount: Mount | None
    volatile: str | None
    """Why it is not durable (for ``not durable: …``), or None when it is."""

    @property
    def durable(self) -> bool:
        return self.volatile is None


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes (\\040)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text: str) -> list[Mount]:
    """Every mount, in the kernel's order (a later mount on a point hides an earlier)."""
    mounts: list[Mount] = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        head, tail = left.split(), right.split()
        if not sep or len(head) < 5 or len(tail) < 2:
            continue  # a line this parser does not know is no reason to stop
        mounts.append(
            Mount(
                mount_point=_unescape(head[4]),
                fstype=tail[0],
                source=_unescape(tail[1]),
                super_options=tail[2] if len(tail) > 2 else "",
            )
        )
    return mounts


def mount_of(path: str | PurePosixPath, mounts: list[Mount]) -> Mount | None:
    """The mount that holds ``path`` (absolute, symlinks resolved by the caller)."""
    target = PurePosixPath(path)
    best: Mount | None = None
    for mount in mounts:
        point = PurePosixPath(mount.mount_point)
        holds = target == point or point in target.parents
        if holds and (
            best is None or len(point.parts) >= len(PurePosixPath(best.mount_point).parts)
        ):
            best = mount
    return best


def durability(path: str | PurePosixPath, mounts: list[Mount]) -> Durability:
    mount = mount_of(path, mounts)
    if mount is None:
        return Durability(None, None)  # nothing known: no alarm on a guess
    where = f"{mount.fstype} at {mount.mount_point}"
    if mount.fstype in RAM_TYPES:
        return Durability(mount, f"{path} is on {where} (RAM)")
    if RAM_SOURCES.match(mount.source):
        return Durability(mount, f"{path} is on {where} on {mount.source} (a RAM disk)")
    if mount.fstype in READ_ONLY_TYPES:
        return Durability(mount, f"{path} is on {where} (a read-only image)")
    if mount.fstype == "overlay":
        upper = mount.option("upperdir")
        below = mount_of(upper, mounts) if upper else None
        if below is None or below is mount:
            return Durability(
                mount, f"{path} is on {where} whose upper layer cannot be seen (RAM assumed)"
            )
        inner = durability(upper or "", [m for m in mounts if m is not mount])
        if not inner.durable:
            return Durability(mount, f"{path} is on {where} over {below.fstype} (RAM)")
    return Durability(mount, None)
