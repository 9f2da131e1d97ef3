"""Siaga Edge: an early-warning edge daemon for fire, flood and earthquake sensors."""

__version__ = "0.1.0"
