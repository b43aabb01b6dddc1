// The page's one socket to /ws/chat/: reconnects with backoff and shows its
// state. Pages pass onFrame (every server frame) and onOpen (resync hook).

const MAX_BACKOFF_MS = 10000;

export function pageData() {
  return JSON.parse(document.getElementById("page-data").textContent);
}

export function connectLive({ onFrame, onOpen, statusElement }) {
  let socket = null;
  let attempt = 0;
  let stopped = false;
  const outbox = [];

  function showState(state, text) {
    if (!statusElement) return;
    statusElement.dataset.state = state;
    statusElement.textContent = text;
  }

  function open() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws/chat/`);
    showState("connecting", attempt ? "Reconnecting…" : "Connecting…");
    socket.addEventListener("open", () => {
      attempt = 0;
      showState("online", "Connected");
      if (onOpen) onOpen();
      while (outbox.length && socket.readyState === WebSocket.OPEN) socket.send(outbox.shift());
    });
    socket.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      onFrame(frame);
    });
    socket.addEventListener("close", (event) => {
      if (stopped) return;
      if (event.code === 4401) {
        showState("offline", "Signed out: reload to log in again");
        return;
      }
      attempt += 1;
      const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** (attempt - 1)) * (0.75 + Math.random() / 2);
      showState("offline", `Disconnected, retrying in ${Math.ceil(delay / 1000)} s…`);
      setTimeout(open, delay);
    });
  }

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

export function setPresence(userId, online) {
  for (const dot of document.querySelectorAll(`.dot[data-user-id="${CSS.escape(userId)}"]`)) {
    dot.classList.toggle("online", online);
  }
  for (const text of document.querySelectorAll(`.presence-text[data-user-id="${CSS.escape(userId)}"]`)) {
    text.textContent = online ? " (online)" : " (offline)";
  }
}

export function formatTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
