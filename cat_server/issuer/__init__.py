"""The national issuer's side of a release: answering centres that fetch a slot's code (docs/packages.md).

Above the sealed room (codes, the request and answer formats) and the results
room (its trust store of centre keys); nothing at a centre imports it.
"""
