"""What a SIGHUP changes: a pure plan from the old config and the new one.

Sections the running daemon cannot swap (its identity, broker, store, pins, socket) keep
their old values until a restart, and say so. A sensor whose detection is unchanged but
whose name or place is keeps its machine, state and history (an alarm stays the same
alarm, with the same ack); any other change rebuilds it.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.config import SensorConfig, SiagaConfig

FIXED_SECTIONS = ("site", "mqtt", "storage", "gpio", "control")


@dataclass(frozen=True, slots=True)
class ReloadPlan:
    config: SiagaConfig
    """The config to run with: the new one, but the fixed sections as they were."""
    needs_restart: list[str]
    changed: list[str]
    renamed: list[str]
    removed: list[str]
    added: list[str]

    @property
    def detail(self) -> str:
        return (
            f"changed={','.join(self.changed) or '-'} added={','.join(self.added) or '-'} "
            f"removed={','.join(self.removed) or '-'}"
            + (f" renamed={','.join(self.renamed)}" if self.renamed else "")
        )


def watched(cfg: SensorConfig) -> SensorConfig:
    """The part of a sensor's config that decides what it detects: all but its words."""
    return cfg.model_copy(update={"name": "", "location": ""})


def plan_reload(old: SiagaConfig, new: SiagaConfig) -> ReloadPlan:
    needs_restart = [name for name in FIXED_SECTIONS if getattr(old, name) != getattr(new, name)]
    before = {s.id: s for s in old.sensors}
    after = {s.id: s for s in new.sensors}
    both = [i for i in before if i in after and before[i] != after[i]]
    changed = [i for i in both if watched(before[i]) != watched(after[i])]
    return ReloadPlan(
        config=new.model_copy(update={name: getattr(old, name) for name in needs_restart}),
        needs_restart=needs_restart,
        changed=changed,
        renamed=[i for i in both if i not in changed],
        removed=[i for i in before if i not in after],
        added=[i for i in after if i not in before],
    )
