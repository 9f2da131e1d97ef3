"""The control room's station: every site's traffic archived, every alarm tracked until
closed, "handled" only when the device confirms (docs/station.md).

Pure core: ``alarms`` (the alarm rules), ``sites`` (liveness, sensors, gaps through
``edge.gaps``), ``messages`` (MQTT message -> fact). Thin shells: ``archive`` (SQL),
``recorder`` (a batch of facts -> one transaction), ``desk`` (operators' ack and
close), ``site_watch`` (silent sites, gaps over time), ``alarm_writer`` (the one way an
alarm change is stored and told), ``ingest`` (paho, every broker),
``http`` (the JSON API), ``service`` (orchestration only). Installed with the extra
``siaga-edge[station]``; nothing here is imported by the device's commands.
"""
