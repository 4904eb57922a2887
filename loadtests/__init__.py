"""Load tests: the workstation simulator, the scenarios and a bare echo server (issue 8)."""
