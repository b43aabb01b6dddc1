// One conversation: live messages, sending, typing, read receipts, older
// history on scroll, and catch-up by version after a reconnect. Message text
// only ever enters the page through textContent.
import { connectLive, formatTime, pageData, resetPresence, setPresence } from "./live.js";

const data = pageData();
const conversationId = data.conversationId;
const list = document.getElementById("message-list");
const scroller = document.getElementById("messages");
const historyStatus = document.getElementById("history-status");
const composer = document.getElementById("composer");
const input = document.getElementById("composer-text");
const typingLine = document.getElementById("typing");
// "Seen" sits inside my newest message, under its text.
const seenLine = document.createElement("span");
seenLine.id = "seen";
seenLine.className = "seen";
seenLine.hidden = true;

const TYPING_IDLE_MS = 3000;
const TYPING_SHOWN_MS = 6000;
// While typing goes on, `active` is repeated this often so that the others'
// TYPING_SHOWN_MS never runs out.
const TYPING_REFRESH_MS = 3000;
// The server drops an `active` less than 2 s after the previous one
// (docs/websocket.md): one that would come too soon waits until then.
const TYPING_MIN_GAP_MS = 2200;

let lastVersion = data.lastVersion;
let syncing = false;
let hasOlder = data.hasOlder;
let loadingOlder = false;
const versions = new Map(); // message id -> version shown
const readSeqs = new Map(Object.entries(data.readSeqs));
const typingUsers = new Map(); // user id -> timeout
let typingIdleTimer = null;
let typingActive = false;
let typingSentAt = -Infinity; // when the last `active` went out
let typingDeferred = null;

for (const message of data.messages) versions.set(message.id, message.version);
for (const time of list.querySelectorAll("time")) time.textContent = formatTime(time.getAttribute("datetime"));
resetPresence(data.online);

function nameOf(userId) {
  return userId === null ? "System" : data.members[userId] || `User ${userId}`;
}

function renderMessage(message, element = document.createElement("li")) {
  element.className = "message";
  element.classList.toggle("mine", message.sender === data.me);
  element.classList.toggle("deleted", Boolean(message.deletedAt));
  element.dataset.seq = String(message.seq);
  element.dataset.id = message.id;
  element.replaceChildren();
  const meta = document.createElement("span");
  meta.className = "meta";
  const sender = document.createElement("span");
  sender.className = "sender";
  sender.textContent = nameOf(message.sender);
  const time = document.createElement("time");
  time.setAttribute("datetime", message.createdAt);
  time.textContent = formatTime(message.createdAt);
  meta.append(sender, " ", time);
  if (message.editedAt && !message.deletedAt) {
    const edited = document.createElement("span");
    edited.className = "edited";
    edited.textContent = "(edited)";
    meta.append(" ", edited);
  }
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = message.deletedAt ? "This message was deleted" : message.text;
  element.append(meta, text);
  return element;
}

function nearBottom() {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
}

// Put a message in seq order; a message already shown is replaced only by a newer version.
function applyMessage(message) {
  const known = versions.get(message.id);
  if (known !== undefined && known >= message.version) return;
  versions.set(message.id, message.version);
  const stick = nearBottom();
  const existing = list.querySelector(`li[data-id="${CSS.escape(message.id)}"]`);
  if (existing) {
    renderMessage(message, existing);
  } else {
    const pending = message.clientMessageId
      ? list.querySelector(`li[data-client-id="${CSS.escape(message.clientMessageId)}"]`)
      : null;
    if (pending) pending.remove();
    const element = renderMessage(message);
    const later = [...list.querySelectorAll("li[data-seq]")].find(
      (li) => Number(li.dataset.seq) > message.seq,
    );
    list.insertBefore(element, later || list.querySelector("li.pending"));
  }
  if (stick || message.sender === data.me) scroller.scrollTop = scroller.scrollHeight;
  updateSeen();
}

function lastSeq() {
  const items = list.querySelectorAll("li[data-seq]");
  return items.length ? Number(items[items.length - 1].dataset.seq) : 0;
}

function markRead() {
  const seq = lastSeq();
  if (document.visibilityState !== "visible" || seq <= (readSeqs.get(data.me) || 0)) return;
  readSeqs.set(data.me, seq);
  live.send({ type: "read", conversationId, seq });
}

// "Seen" under my newest message once every other member has read up to it.
function updateSeen() {
  const mine = list.querySelectorAll("li.mine[data-seq]");
  const others = Object.keys(data.members).filter((id) => id !== data.me);
  if (!mine.length || !others.length) {
    seenLine.hidden = true;
    return;
  }
  const seq = Number(mine[mine.length - 1].dataset.seq);
  const readers = others.filter((id) => (readSeqs.get(id) || 0) >= seq);
  seenLine.hidden = readers.length === 0;
  seenLine.textContent =
    readers.length === others.length || others.length === 1
      ? "Seen"
      : `Seen by ${readers.map(nameOf).join(", ")}`;
  mine[mine.length - 1].append(seenLine);
}

function showTyping() {
  const names = [...typingUsers.keys()].map(nameOf);
  typingLine.textContent =
    names.length === 0 ? "" : `${names.join(", ")} ${names.length === 1 ? "is" : "are"} typing…`;
}

function onTyping(frame) {
  clearTimeout(typingUsers.get(frame.userId));
  if (frame.active) {
    typingUsers.set(
      frame.userId,
      setTimeout(() => {
        typingUsers.delete(frame.userId);
        showTyping();
      }, TYPING_SHOWN_MS),
    );
  } else {
    typingUsers.delete(frame.userId);
  }
  showTyping();
}

function requestSync() {
  syncing = true;
  live.sync(conversationId);
}

function onFrame(frame) {
  if (frame.conversationId !== conversationId && frame.type !== "presence") return;
  switch (frame.type) {
    case "message.new":
    case "message.updated":
    case "message.deleted":
    case "message.ack":
      if (frame.type !== "message.ack" && !syncing && frame.version > lastVersion + 1) requestSync();
      applyMessage(frame.message);
      if (!syncing) lastVersion = Math.max(lastVersion, frame.version);
      if (frame.message.sender !== data.me) {
        typingUsers.delete(frame.message.sender);
        showTyping();
      }
      markRead();
      break;
    case "sync.done":
      syncing = false;
      lastVersion = Math.max(lastVersion, ...versions.values());
      markRead();
      break;
    case "typing":
      onTyping(frame);
      break;
    case "read":
      readSeqs.set(frame.userId, frame.seq);
      updateSeen();
      break;
    case "presence":
      setPresence(frame.userId, frame.online);
      break;
    case "error":
      showError(frame);
      break;
  }
}

function showError(frame) {
  if (frame.clientMessageId) {
    const pending = list.querySelector(`li[data-client-id="${CSS.escape(frame.clientMessageId)}"]`);
    if (pending) {
      pending.classList.add("failed");
      pending.querySelector(".meta").textContent = `Not sent: ${frame.message}`;
      return;
    }
  }
  typingLine.textContent = frame.message;
}

// Signed out (in another tab, or the password changed): nothing can be sent
// any more, and what waited to be sent never will be.
function disableComposer() {
  for (const control of composer.elements) control.disabled = true;
  for (const pending of list.querySelectorAll("li.pending")) {
    pending.classList.add("failed");
    pending.querySelector(".meta").textContent = "Not sent: you are signed out";
  }
}

const live = connectLive({
  statusElement: document.getElementById("connection"),
  onFrame,
  onSignedOut: disableComposer,
  sinceVersion: () => lastVersion,
  onOpen() {
    requestSync();
  },
});

function sendTyping(active) {
  clearTimeout(typingDeferred);
  // Typing is only worth telling now: it is never queued for a reconnect.
  if (!live.isOpen()) return;
  if (!active) {
    if (!typingActive) return;
    typingActive = false;
    live.send({ type: "typing", conversationId, active: false });
    return;
  }
  const since = Date.now() - typingSentAt;
  if (typingActive && since < TYPING_REFRESH_MS) return;
  if (since < TYPING_MIN_GAP_MS) {
    typingDeferred = setTimeout(() => sendTyping(true), TYPING_MIN_GAP_MS - since);
    return;
  }
  typingActive = true;
  typingSentAt = Date.now();
  live.send({ type: "typing", conversationId, active: true });
}

function send() {
  const text = input.value;
  if (!text.trim()) return;
  const clientMessageId = crypto.randomUUID();
  const pending = document.createElement("li");
  pending.className = "message mine pending";
  pending.dataset.clientId = clientMessageId;
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = "Sending…";
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  pending.append(meta, body);
  list.append(pending);
  scroller.scrollTop = scroller.scrollHeight;
  live.send({ type: "message.send", conversationId, text, clientMessageId });
  input.value = "";
  clearTimeout(typingIdleTimer);
  sendTyping(false);
}

composer.addEventListener("submit", (event) => {
  event.preventDefault();
  send();
  input.focus();
});

input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    send();
  }
});

input.addEventListener("input", () => {
  if (!input.value) {
    sendTyping(false);
    return;
  }
  sendTyping(true);
  clearTimeout(typingIdleTimer);
  typingIdleTimer = setTimeout(() => sendTyping(false), TYPING_IDLE_MS);
});

async function loadOlder() {
  if (!hasOlder || loadingOlder) return;
  const first = list.querySelector("li[data-seq]");
  if (!first) return;
  loadingOlder = true;
  historyStatus.textContent = "Loading older messages…";
  try {
    const response = await fetch(
      `/api/messages/${conversationId}?before=${first.dataset.seq}&limit=50`,
      { headers: { Accept: "application/json" }, credentials: "same-origin" },
    );
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const older = await response.json();
    const previousHeight = scroller.scrollHeight;
    const fragment = document.createDocumentFragment();
    for (const message of older) {
      if (versions.has(message.id)) continue;
      versions.set(message.id, message.version);
      fragment.append(renderMessage(message));
    }
    list.prepend(fragment);
    scroller.scrollTop += scroller.scrollHeight - previousHeight;
    hasOlder = /rel="prev"/.test(response.headers.get("Link") || "");
    historyStatus.textContent = hasOlder
      ? "Scroll up for older messages"
      : "This is the start of the conversation.";
  } catch (error) {
    historyStatus.textContent = `Could not load older messages (${error.message}); scroll to retry.`;
  } finally {
    loadingOlder = false;
  }
}

new IntersectionObserver((entries) => {
  if (entries.some((entry) => entry.isIntersecting)) loadOlder();
}, { root: scroller }).observe(historyStatus);

document.addEventListener("visibilitychange", markRead);
scroller.scrollTop = scroller.scrollHeight;
updateSeen();
markRead();
