"""The challenge library: challenges kept as folders ("questions as code").

A challenge folder holds ``challenge.toml``, ``README.md`` (the statement), ``files/`` (the
starter workspace), ``tests/visible/``, ``tests/hidden/`` and ``solution/``. ``layout``
names those parts, ``manifest`` validates a folder, ``bundle`` packs and safely unpacks it,
``library`` imports it as an immutable version, ``results`` parses test reports and
``checks`` runs a folder's own tests.
"""
