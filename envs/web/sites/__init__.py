"""Local websites, each a WSGI application with its content generator and server-side state.

``shop`` (:mod:`.shop`), the encyclopedia (:mod:`.wiki`) and the forms site (:mod:`.forms`). Their
tasks are in :mod:`rlft.envs.web.tasks`.
"""
