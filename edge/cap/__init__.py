"""CAP 1.2 for the station: the alarm lifecycle as CAP alerts (``compose``), their XML
(``encode``/``decode``), the Atom feed (``atom``), the rules the schema cannot express
(``rules``), pushes to partners (``push``, ``push_sqlite``, ``push_http``) and partners'
feeds read back for the board (``readback``, ``readback_http``). See docs/cap.md."""
