"""The API's routers, one module per resource; each exposes ``build_router(settings)``.

They are registered in ``kiji.api.edges``; what they share (the state, ``compute``, the error
shape, the /v1 guard) comes from the modules below them (``deps``, ``errors``, ``security``).
"""
