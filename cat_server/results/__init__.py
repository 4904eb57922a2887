"""Signed result bundles out of a centre, merged nationally, sent until acknowledged (docs/results.md).

Above the exam room (it reads attempts, chains and scores); the sealed room
below it gives the keys.
"""
