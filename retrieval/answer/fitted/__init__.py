"""The fitted answer models shipped with kiji, one per embedding model (``kiji fit``)."""
