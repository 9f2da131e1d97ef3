"""Tests use the same private broker as the demo (edge.localbroker)."""

from edge.localbroker import Mosquitto, free_port, wait_port

__all__ = ["Mosquitto", "free_port", "wait_port"]
