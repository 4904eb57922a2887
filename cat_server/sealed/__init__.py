"""Sealed exam packages in, signed results out: the centre's side of BKN's network (docs/packages.md)."""
