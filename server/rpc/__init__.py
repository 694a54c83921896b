"""The JSON-RPC daemon editors talk to (``llm-flows serve``); the protocol is docs/protocol.md.

Layers, bottom up: ``framing`` (Content-Length frames), ``endpoint``
(messages, python-lsp-jsonrpc with its sharp edges fixed), ``connection``
(threads per client, dispatch on the loop), ``methods`` (the protocol on the
command table), ``daemon`` (clients, notifications, shutdown), ``serve``
(start-up: stdout protection, logging, sockets).
"""
