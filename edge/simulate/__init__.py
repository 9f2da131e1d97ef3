"""Simulated sensors for ``run --simulate``, ``demo`` and ``drill``.

:mod:`.scenario` is pure (the scenario file and its timeline, what drills feed into
detection); :mod:`.pins`, :mod:`.mcp3008` and :mod:`.driver` put that timeline onto
gpiozero's mock pins so the production adapters read it. Only those import gpiozero.
"""

from pathlib import Path

from edge.simulate.scenario import (
    PulseTrain,
    Scenario,
    ScenarioError,
    SimValue,
    Timeline,
    idle_value,
    load_scenario,
    sensed_value,
)

DEMO_SCENARIO = Path(__file__).resolve().parent.parent / "data" / "demo-scenario.toml"
"""The built-in fire, flood and earthquake scenario of ``siaga-edge demo``."""

__all__ = [
    "DEMO_SCENARIO",
    "PulseTrain",
    "Scenario",
    "ScenarioError",
    "SimValue",
    "Timeline",
    "idle_value",
    "load_scenario",
    "sensed_value",
]
