from labkit import lab  # noqa: F401  (the session fixture)
