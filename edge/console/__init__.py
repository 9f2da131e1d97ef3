"""The control room's console: a pure board model, a rich renderer, a thin MQTT session.

- :mod:`.board`: ``Board.feed(topic, payload, now)`` / ``Board.tick(now)``: present
  state, de-duplication, acknowledgements, drills kept apart, silent devices, ``seq``
  gaps and the ``resend`` requests that fill them. No I/O, no clock.
- :mod:`.render`: the board as rich tables (a pure function of the board and the time).
- :mod:`.app`: the MQTT session (persistent, through :class:`edge.mqtt.MqttLink`),
  operator commands, the saved ``seq`` watermarks.
"""

from edge.console.board import Board, Outgoing, Update

__all__ = ["Board", "Outgoing", "Update"]
