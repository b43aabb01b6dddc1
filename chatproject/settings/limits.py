"""The chat's own limits: message length, group size, sockets per user, rate
limits, trusted proxies, request body size."""

from chatproject.settings.environment import env_int, env_str

CHAT_MESSAGE_MAX_LENGTH = env_int("CHAT_MESSAGE_MAX_LENGTH", 4000)
CHAT_HISTORY_DEFAULT_LIMIT = 50
CHAT_HISTORY_MAX_LIMIT = 200
CHAT_GROUP_MAX_MEMBERS = env_int("CHAT_GROUP_MAX_MEMBERS", 500)
CHAT_WS_MAX_FRAME_BYTES = 64 * 1024
# Open sockets per user, over every process: one more is closed with 4409.
CHAT_WS_MAX_SOCKETS = env_int("CHAT_WS_MAX_SOCKETS", 20)
CHAT_TYPING_INTERVAL = 2.0
# How long a `typing` active frame counts (messaging/typing_state.py): the web
# client repeats it every 3 s and shows a typist for 6 s after the last one.
CHAT_TYPING_TTL = 6
# Seeds 001, 002 and 004 return a whole conversation in one response (they
# document no paging); a conversation with more messages than this is refused
# with an error rather than cut short (docs/compat.md).
CHAT_COMPAT_MAX_MESSAGES = env_int("CHAT_COMPAT_MAX_MESSAGES", 10000)
# Distinct emoji on one message: a new one beyond it is refused (409), an
# emoji already there can still be added by anyone.
CHAT_REACTIONS_MAX_DISTINCT = env_int("CHAT_REACTIONS_MAX_DISTINCT", 20)
# Attachments (docs/api.md "Attachments"): bytes per file (413 over it), files
# per message, pixels per image (a larger one is refused, not decoded), and
# how long an upload may wait to be sent before purge_attachments removes it.
CHAT_ATTACHMENT_MAX_BYTES = env_int("CHAT_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
CHAT_ATTACHMENTS_PER_MESSAGE = env_int("CHAT_ATTACHMENTS_PER_MESSAGE", 10)
CHAT_ATTACHMENT_MAX_PIXELS = env_int("CHAT_ATTACHMENT_MAX_PIXELS", 50_000_000)
CHAT_ATTACHMENT_UNSENT_HOURS = env_int("CHAT_ATTACHMENT_UNSENT_HOURS", 24)

# Rate limits (chatproject/throttling.py, docs/limits.md):
# "COUNT/[N]UNIT" (s, min, h, day) or "off". Read at call time.
CHAT_RATE_LIMITS = {
    # Sends per user, REST and socket together.
    "message.send": env_str("CHAT_RATE_MESSAGE_SEND", "60/min"),
    # Sign-up, token and login attempts per client address (all of them) ...
    "auth.ip": env_str("CHAT_RATE_AUTH_IP", "20/min"),
    # ... and per username (the failed ones).
    "auth.username": env_str("CHAT_RATE_AUTH_USERNAME", "10/min"),
    # Frames per socket, of every type.
    "socket.frames": env_str("CHAT_RATE_SOCKET_FRAMES", "600/min"),
    # Conversations started per user (REST and the page), found direct ones included.
    "conversation.create": env_str("CHAT_RATE_CONVERSATION_CREATE", "20/min"),
    # Reactions added per user, REST and socket together (removing is not counted).
    "reaction.add": env_str("CHAT_RATE_REACTION_ADD", "120/min"),
    # Searches per user (GET /api/search/messages).
    "search": env_str("CHAT_RATE_SEARCH", "60/min"),
    # Attachments uploaded per user.
    "attachment.upload": env_str("CHAT_RATE_ATTACHMENT_UPLOAD", "30/min"),
}
# Reverse proxies in front of the server that append to X-Forwarded-For; 0
# (the default) trusts only REMOTE_ADDR.
CHAT_TRUSTED_PROXIES = env_int("CHAT_TRUSTED_PROXIES", 0)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("CHAT_MAX_BODY_BYTES", 256 * 1024)
