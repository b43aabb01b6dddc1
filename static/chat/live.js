// The page's one socket to /ws/chat/: reconnects with backoff and shows its
// state. Pages pass onFrame (every server frame) and onOpen, the resync hook:
// it runs each time the socket (re)opens and when the page is shown again
// from the back/forward cache (Chromium closes a cached page's sockets, so
// that usually means a reconnect too; whatever happened meanwhile was missed).

const MAX_BACKOFF_MS = 10000;

export function pageData() {
  return JSON.parse(document.getElementById("page-data").textContent);
}

export function connectLive({ onFrame, onOpen, statusElement }) {
  let socket = null;
  let attempt = 0;
  let stopped = false;
  let retryTimer = null;
  const outbox = [];

  function showState(state, text) {
    if (!statusElement) return;
    statusElement.dataset.state = state;
    statusElement.textContent = text;
  }

  function open() {
    clearTimeout(retryTimer);
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const current = new WebSocket(`${scheme}://${location.host}/ws/chat/`);
    socket = current;
    showState("connecting", attempt ? "Reconnecting…" : "Connecting…");
    current.addEventListener("open", () => {
      attempt = 0;
      showState("online", "Connected");
      // The server now sends a `presence` frame for each member online.
      resetPresence();
      if (onOpen) onOpen();
      while (outbox.length && socket.readyState === WebSocket.OPEN) socket.send(outbox.shift());
    });
    current.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      onFrame(frame);
    });
    current.addEventListener("close", (event) => {
      // A socket already replaced (the page reopened one on `pageshow`) is history.
      if (stopped || current !== socket) return;
      forgetPresence();
      if (event.code === 4401) {
        showState("offline", "Signed out: reload to log in again");
        return;
      }
      attempt += 1;
      const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** (attempt - 1)) * (0.75 + Math.random() / 2);
      showState("offline", `Disconnected, retrying in ${Math.ceil(delay / 1000)} s…`);
      retryTimer = setTimeout(open, delay);
    });
  }

  window.addEventListener("pageshow", (event) => {
    if (!event.persisted || stopped) return;
    if (socket.readyState === WebSocket.OPEN) {
      if (onOpen) onOpen();
    } else if (socket.readyState !== WebSocket.CONNECTING) {
      attempt = 0;
      open();
    }
  });

  open();
  return {
    // Frames sent while disconnected wait and go out in order on reconnect.
    send(frame) {
      const text = JSON.stringify(frame);
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(text);
      else outbox.push(text);
    },
    isOpen: () => socket && socket.readyState === WebSocket.OPEN,
    close() {
      stopped = true;
      socket.close();
    },
  };
}

// Presence as the server last told it: user id -> online. Nobody is in it
// while the socket is down: what the page cannot hear about is shown as
// unknown (a hollow dot, "presence unknown"), never as a stale green.
const presence = new Map();

function paintPresence(userId) {
  const state = presence.has(userId) ? (presence.get(userId) ? "online" : "offline") : "unknown";
  for (const dot of document.querySelectorAll(`.dot[data-user-id="${CSS.escape(userId)}"]`)) {
    dot.classList.toggle("online", state === "online");
    dot.classList.toggle("unknown", state === "unknown");
  }
  for (const text of document.querySelectorAll(`.presence-text[data-user-id="${CSS.escape(userId)}"]`)) {
    text.textContent = state === "unknown" ? " (presence unknown)" : ` (${state})`;
  }
}

function usersShown() {
  const ids = [...document.querySelectorAll(".dot[data-user-id], .presence-text[data-user-id]")];
  return new Set(ids.map((element) => element.dataset.userId));
}

export function setPresence(userId, online) {
  presence.set(String(userId), online);
  paintPresence(String(userId));
}

// Everyone on the page offline except `onlineIds`: the server's presence
// frames (or the page's data) name only who is online.
export function resetPresence(onlineIds = []) {
  const online = new Set(onlineIds.map(String));
  for (const userId of usersShown()) setPresence(userId, online.has(userId));
}

function forgetPresence() {
  presence.clear();
  for (const userId of usersShown()) paintPresence(userId);
}

// Paints dots added to the page since (users not heard of are unknown).
export function repaintPresence() {
  for (const userId of usersShown()) paintPresence(userId);
}

export function formatTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
