"""Security tests: leaks, hostile input, access (issue 9)."""
