"""The station's archive: SQLite (embedded default, WAL) or PostgreSQL (psycopg 3), one
schema and one set of migrations (``schema.py``), chosen by ``database.url``."""

from edge.station.archive.store import Archive, ArchiveDownError, Tx

__all__ = ["Archive", "ArchiveDownError", "Tx"]
