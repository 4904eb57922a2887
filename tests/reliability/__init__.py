"""Reliability tests: crashes, cuts, time-outs (issue 9)."""
