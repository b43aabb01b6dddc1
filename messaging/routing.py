"""WebSocket routes. The chat consumer at /ws/chat/ arrives with the live
chat work; until then the router has no routes and refuses sockets."""

websocket_urlpatterns: list = []
