// The page's one socket to /ws/chat/: reconnects with backoff and shows its
// state. Pages pass onFrame (every server frame), onSignedOut (the socket was
// closed for good: the user must sign in again) and onOpen, the resync hook:
// it runs each time the socket (re)opens and when the page is shown again
// from the back/forward cache (Chromium closes a cached page's sockets, so
// that usually means a reconnect too; whatever happened meanwhile was missed).
// A page that syncs passes sinceVersion(conversationId) and calls sync(id).
import { format, gettext, ngettext } from "./i18n.js";

const MAX_BACKOFF_MS = 10000;
// The server closes a socket whose credential is gone (logout, password
// change, token revoked, user deactivated) with this code: the page asks
// whether this browser is still signed in (a password change here gives it
// a new session) and reconnects, or shows it is signed out and stops.
const CLOSE_SIGNED_OUT = 4401;
const SIGN_IN_CHECK_DELAY_MS = 1000;

export function pageData() {
  return JSON.parse(document.getElementById("page-data").textContent);
}

// true: this browser is still signed in as the page's user; false: it is
// not (or as someone else); null: cannot tell now (network, server error).
async function stillSignedIn() {
  try {
    const response = await fetch("/api/users/me", {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (response.status === 401 || response.status === 403) return false;
    if (!response.ok) return null;
    return (await response.json()).id === pageData().me;
  } catch {
    return null;
  }
}

// The page's templates/chat/signed_out.html, as a role="alert" at the top.
function showSignedOut() {
  const template = document.getElementById("signed-out-template");
  document.getElementById("main").prepend(template.content.cloneNode(true));
}

export function connectLive({ onFrame, onOpen, onSignedOut, sinceVersion, statusElement }) {
  let socket = null;
  let attempt = 0;
  let stopped = false;
  let retryTimer = null;
  const outbox = [];
  // One `sync` in flight per socket (the server refuses a second one before
  // the first one's `sync.done`): the others wait here, in order, and each
  // asks from the version the page holds when its turn comes.
  const syncQueue = [];
  let syncInFlight = null;

  function sendNextSync() {
    if (syncInFlight !== null || !syncQueue.length || socket.readyState !== WebSocket.OPEN) return;
    const conversationId = syncQueue.shift();
    syncInFlight = conversationId;
    socket.send(
      JSON.stringify({ type: "sync", conversationId, sinceVersion: sinceVersion(conversationId) }),
    );
  }

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
    showState("connecting", attempt ? gettext("Reconnecting…") : gettext("Connecting…"));
    current.addEventListener("open", () => {
      attempt = 0;
      // A sync the previous socket had in flight ended with it: it goes first.
      if (syncInFlight !== null) syncQueue.unshift(syncInFlight);
      syncInFlight = null;
      showState("online", gettext("Connected"));
      // The server now sends a `presence` frame for each member online.
      resetPresence();
      if (onOpen) onOpen();
      while (outbox.length && socket.readyState === WebSocket.OPEN) socket.send(outbox.shift());
      sendNextSync();
    });
    current.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      const syncDone = frame.type === "sync.done" && frame.conversationId === syncInFlight;
      if (syncDone) syncInFlight = null;
      onFrame(frame);
      if (syncDone) sendNextSync();
    });
    current.addEventListener("close", (event) => {
      // A socket already replaced (the page reopened one on `pageshow`) is history.
      if (stopped || current !== socket) return;
      forgetPresence();
      if (event.code === CLOSE_SIGNED_OUT) afterCredentialClosed();
      else retry();
    });
  }

  function retry() {
    attempt += 1;
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** (attempt - 1)) * (0.75 + Math.random() / 2);
    const seconds = Math.ceil(delay / 1000);
    showState(
      "offline",
      format(ngettext("Disconnected, retrying in %(seconds)s second…", "Disconnected, retrying in %(seconds)s seconds…", seconds), { seconds }),
    );
    retryTimer = setTimeout(open, delay);
  }

  // The socket's credential is gone. A password changed in this browser gave
  // it a new session, which the next socket uses; otherwise, or signed in as
  // someone else now, this page is over.
  async function afterCredentialClosed() {
    showState("connecting", gettext("Checking sign-in…"));
    // A password changed in another tab closes this socket before that tab's
    // response has given the browser its new session cookie; a request with
    // the old one now would be answered with a deleted cookie. So wait first.
    await new Promise((resolve) => setTimeout(resolve, SIGN_IN_CHECK_DELAY_MS));
    const signedIn = await stillSignedIn();
    if (signedIn === false) signOut();
    else retry();
  }

  function signOut() {
    stopped = true;
    outbox.length = 0;
    showState("signed-out", gettext("Signed out"));
    showSignedOut();
    if (onSignedOut) onSignedOut();
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
      if (stopped) return;
      const text = JSON.stringify(frame);
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(text);
      else outbox.push(text);
    },
    // Catch up on a conversation, after the syncs already asked for.
    sync(conversationId) {
      if (stopped || syncInFlight === conversationId || syncQueue.includes(conversationId)) return;
      syncQueue.push(conversationId);
      sendNextSync();
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
// unknown (a hollow dot, "presence unknown"), never as a stale green. While
// connected, someone the server named in no `presence` frame is offline (it
// names everyone online who shares a conversation, when the socket opens).
const presence = new Map();
let connected = false;
const PRESENCE_LABELS = {
  online: gettext("(online)"),
  offline: gettext("(offline)"),
  unknown: gettext("(presence unknown)"),
};

function paintPresence(userId) {
  const known = presence.has(userId) || connected;
  const state = known ? (presence.get(userId) ? "online" : "offline") : "unknown";
  for (const dot of document.querySelectorAll(`.dot[data-user-id="${CSS.escape(userId)}"]`)) {
    dot.classList.toggle("online", state === "online");
    dot.classList.toggle("unknown", state === "unknown");
  }
  for (const text of document.querySelectorAll(`.presence-text[data-user-id="${CSS.escape(userId)}"]`)) {
    text.textContent = ` ${PRESENCE_LABELS[state]}`;
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
  connected = true;
  const online = new Set(onlineIds.map(String));
  for (const userId of usersShown()) setPresence(userId, online.has(userId));
}

// Paints dots added to the page since (users not heard of are unknown).
export function repaintPresence() {
  for (const userId of usersShown()) paintPresence(userId);
}

function forgetPresence() {
  connected = false;
  presence.clear();
  repaintPresence();
}
