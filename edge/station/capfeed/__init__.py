"""The station's side of CAP 1.2 (issue 14): alarm changes to stored, queued alerts
(``issuer``), the partners' pushes and the read-back feeds (``wire``, ``poller``); the
pure CAP package ``edge.cap`` does the composing, encoding and queue logic."""
