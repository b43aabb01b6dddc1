// The open conversation: its header, its messages (history from the server
// or the API, then live), older and newer pages on scroll, a message link
// (#m{seq}) loaded around its message, read marks and "Seen", typing,
// polite announcements of others' messages, the jump-to-bottom button, and
// sending through the outbox. One conversation at a time; opening another
// reuses the pane without reloading the page.
import { api, hasLink } from "./api.js";
import { messageSummary } from "./attachments.js";
import { avatar } from "./avatar.js";
import { format, gettext, ngettext } from "./i18n.js";
import { repaintPresence } from "./live.js";
import * as store from "./store.js";
import * as timeline from "./timeline.js";

const PAGE = 50;
const NEAR_BOTTOM_PX = 80;
const TYPING_IDLE_MS = 3000;
const TYPING_SHOWN_MS = 6000;
// While typing goes on, `active` is repeated this often so that the others'
// TYPING_SHOWN_MS never runs out; the server drops an `active` less than 2 s
// after the previous one (docs/websocket.md), so one never goes sooner.
const TYPING_REFRESH_MS = 3000;
const TYPING_MIN_GAP_MS = 2200;
const RETRY_UNAVAILABLE_MS = 5000;

const pane = document.getElementById("chat");
const emptyPane = document.getElementById("pane-empty");
const title = document.getElementById("chat-title");
const subtitle = document.getElementById("chat-subtitle");
const headAvatar = document.getElementById("chat-avatar");
const scroller = document.getElementById("messages");
const historyStatus = document.getElementById("history-status");
const newerStatus = document.getElementById("newer-status");
const jumpButton = document.getElementById("jump-bottom");
const typingLine = document.getElementById("typing");
const announcer = document.getElementById("announcer");
const closedNote = document.getElementById("closed-note");
const list = timeline.list;
const seenLine = document.createElement("span");
seenLine.id = "seen";
seenLine.className = "seen";
seenLine.hidden = true;

let live = null;
let outbox = null;
let current = null;
const retryTimers = new Map(); // clientMessageId -> timeout
const typingUsers = new Map(); // user id -> timeout
let typingIdleTimer = null;
let typingActive = false;
let typingSentAt = -Infinity;
let typingDeferred = null;
let openSerial = 0;

export function currentId() {
  return current ? current.id : null;
}

export function isOnScreen(conversationId) {
  return current?.id === conversationId && document.visibilityState === "visible";
}

function nearBottom() {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < NEAR_BOTTOM_PX;
}

function scrollToBottom() {
  scroller.scrollTop = scroller.scrollHeight;
  current.unseenBelow = 0;
  paintJump();
}

function paintJump() {
  const away = !current || current.hasNewer || !nearBottom();
  jumpButton.hidden = !away;
  const count = current ? current.unseenBelow : 0;
  jumpButton.querySelector(".jump-count").textContent = count
    ? format(ngettext("%(count)s new message", "%(count)s new messages", count), { count })
    : gettext("Jump to the latest");
}

function lastShownSeq() {
  const items = timeline.messageItems();
  return items.length ? Number(items[items.length - 1].dataset.seq) : 0;
}

// ---- header -----------------------------------------------------------------

export function paintHeader() {
  if (!current) return;
  const row = store.conversations.get(current.id);
  if (!row) return;
  const name = store.conversationName(row);
  title.textContent = name;
  const peer = row.kind === "direct" ? store.others(row)[0] : null;
  avatar(peer || `c${row.id}`, peer ? store.nameOf(peer) : name, headAvatar);
  const members = (row.users || []).map((id) => {
    const item = document.createElement("li");
    const dot = document.createElement("span");
    dot.className = "dot";
    dot.dataset.userId = id;
    dot.setAttribute("aria-hidden", "true");
    const label = document.createElement("span");
    label.className = "member-name";
    label.textContent = id === store.me ? format(gettext("%(name)s (you)"), { name: store.nameOf(id) }) : store.nameOf(id);
    const state = document.createElement("span");
    state.className = "visually-hidden presence-text";
    state.dataset.userId = id;
    item.append(dot, label, state);
    return item;
  });
  subtitle.replaceChildren(...members);
  const closed = row.status === "closed";
  closedNote.hidden = !closed;
  repaintPresence();
}

// ---- rendering ----------------------------------------------------------------

function applyMessage(message, { live: isLive = false } = {}) {
  const known = current.versions.get(message.id);
  if (known !== undefined && known >= message.version) return;
  if (current.hasNewer && known === undefined && message.seq > lastShownSeq()) {
    // A newer page is not loaded: the message shows when the user gets there.
    if (isLive && message.sender !== store.me) current.unseenBelow += 1;
    paintJump();
    return;
  }
  const stick = nearBottom();
  current.versions.set(message.id, message.version);
  if (message.clientMessageId) {
    list.querySelector(`li.pending[data-client-id="${CSS.escape(message.clientMessageId)}"]`)?.remove();
  }
  timeline.place(message);
  if (known !== undefined) timeline.refreshQuotes(message);
  timeline.decorate();
  const fromOther = message.sender !== store.me;
  if (isLive && known === undefined && fromOther) {
    if (message.kind === "system") announce(message.text);
    else if (!message.deletedAt) {
      announce(format(gettext("New message from %(name)s: %(text)s"), { name: store.nameOf(message.sender), text: messageSummary(message) }));
    }
    if (document.visibilityState !== "visible" && !document.getElementById("new-messages-line")) {
      timeline.markFirstUnread(message.seq - 1);
    }
  }
  if (stick || (!fromOther && known === undefined)) scrollToBottom();
  else if (isLive && known === undefined && fromOther) current.unseenBelow += 1;
  paintJump();
  updateSeen();
}

function announce(text) {
  const line = document.createElement("p");
  line.textContent = text;
  announcer.replaceChildren(line);
}

function showPending() {
  for (const entry of outbox.forConversation(current.id)) {
    if (current.pendingShown.has(entry.clientMessageId)) continue;
    current.pendingShown.add(entry.clientMessageId);
    const node = timeline.pendingElement(entry);
    list.append(node);
    if (entry.failed) paintFailed(entry);
  }
}

function pendingNode(clientMessageId) {
  return list.querySelector(`li.pending[data-client-id="${CSS.escape(clientMessageId)}"]`);
}

function paintFailed(entry) {
  const node = pendingNode(entry.clientMessageId);
  if (!node) return;
  node.classList.toggle("failed", Boolean(entry.failed));
  const meta = node.querySelector(".meta");
  if (!entry.failed) {
    meta.replaceChildren(Object.assign(document.createElement("span"), { className: "pending-status", textContent: gettext("Sending…") }));
    return;
  }
  const status = document.createElement("span");
  status.className = "pending-status";
  status.setAttribute("role", "alert");
  status.textContent = format(gettext("Not sent: %(reason)s"), { reason: entry.error });
  const retry = document.createElement("button");
  retry.type = "button";
  retry.className = "link-button";
  retry.textContent = gettext("Retry");
  retry.addEventListener("click", () => resend(entry.clientMessageId));
  const discard = document.createElement("button");
  discard.type = "button";
  discard.className = "link-button";
  discard.textContent = gettext("Discard");
  discard.addEventListener("click", () => discardEntry(entry.clientMessageId));
  meta.replaceChildren(status, " ", retry, " ", discard);
}

// ---- opening ----------------------------------------------------------------

function reset(conversationId) {
  for (const timer of typingUsers.values()) clearTimeout(timer);
  typingUsers.clear();
  typingLine.textContent = "";
  current = {
    id: conversationId,
    versions: new Map(),
    readSeqs: new Map(),
    lastVersion: 0,
    hasOlder: false,
    hasNewer: false,
    loadingOlder: false,
    loadingNewer: false,
    loading: true,
    buffered: [],
    syncing: false,
    unseenBelow: 0,
    pendingShown: new Set(),
  };
  list.replaceChildren();
  emptyPane.hidden = true;
  pane.hidden = false;
}

function readSeqsFrom(row, given) {
  const seqs = new Map(Object.entries(given || {}));
  for (const member of row?.members || []) {
    if (member.lastReadSeq !== undefined) seqs.set(member.id, Math.max(seqs.get(member.id) || 0, member.lastReadSeq));
  }
  if (row) seqs.set(store.me, Math.max(seqs.get(store.me) || 0, row.lastReadSeq || 0));
  return seqs;
}

// Shows a page of messages: the server's (first paint) or the API's.
function show({ messages, hasOlder, hasNewer, readSeqs, focusSeq }) {
  const row = store.conversations.get(current.id);
  current.readSeqs = readSeqsFrom(row, readSeqs);
  current.hasOlder = hasOlder;
  current.hasNewer = hasNewer;
  current.lastVersion = Math.max(row?.lastVersion || 0, ...messages.map((m) => m.version), 0);
  const fragment = document.createDocumentFragment();
  for (const message of messages) {
    current.versions.set(message.id, message.version);
    fragment.append(timeline.messageElement(message));
  }
  list.replaceChildren(fragment);
  showPending();
  timeline.decorate();
  const line = timeline.markFirstUnread(current.readSeqs.get(store.me) || 0);
  paintHistoryStatus();
  paintHeader();
  current.loading = false;
  for (const frame of current.buffered.splice(0)) onFrame(frame);
  const target = focusSeq ? timeline.itemAt(focusSeq) : null;
  if (target) {
    highlight(target);
  } else if (line && !hasNewer) {
    line.scrollIntoView({ block: "center" });
    if (nearBottom()) scrollToBottom();
  } else {
    scrollToBottom();
  }
  paintJump();
  updateSeen();
  markRead();
}

function highlight(item) {
  item.scrollIntoView({ block: "center" });
  item.classList.add("highlighted");
  item.focus({ preventScroll: true });
  setTimeout(() => item.classList.remove("highlighted"), 4000);
}

function paintHistoryStatus() {
  historyStatus.textContent = current.hasOlder
    ? gettext("Scroll up for older messages")
    : gettext("This is the start of the conversation.");
  newerStatus.hidden = !current.hasNewer;
}

async function fetchPage(conversationId, query) {
  const { data, response } = await api("GET", `/api/messages/${encodeURIComponent(conversationId)}?${query}`);
  return { messages: data, response };
}

// Opens `conversationId` (from the sidebar, a link or Back): history over the
// API, around `focusSeq` when a message link names one.
export async function open(conversationId, { focusSeq = null } = {}) {
  const serial = ++openSerial;
  if (current?.id === conversationId && focusSeq) {
    const item = timeline.itemAt(focusSeq);
    if (item) {
      highlight(item);
      return;
    }
  }
  if (current?.id !== conversationId) saveDraftHook?.();
  reset(conversationId);
  historyStatus.textContent = gettext("Loading messages…");
  paintHeader();
  try {
    const query = focusSeq ? `around=${focusSeq}&limit=${PAGE}` : `limit=${PAGE}`;
    const { messages, response } = await fetchPage(conversationId, query);
    if (serial !== openSerial) return;
    show({
      messages,
      hasOlder: hasLink(response, "prev"),
      hasNewer: focusSeq ? hasLink(response, "next") : false,
      focusSeq,
    });
    requestSync();
  } catch (error) {
    if (serial !== openSerial) return;
    historyStatus.textContent = format(gettext("Could not load messages (%(reason)s)."), { reason: error.message });
  }
}

// The server rendered this conversation: its page data, no request.
export function openRendered(data) {
  reset(data.conversationId);
  show({ ...data, focusSeq: null });
  const seq = seqFromHash();
  if (seq) open(data.conversationId, { focusSeq: seq });
}

export function seqFromHash() {
  const match = /^#m(\d+)$/.exec(location.hash);
  return match ? Number(match[1]) : null;
}

export function close() {
  saveDraftHook?.();
  current = null;
  list.replaceChildren();
  pane.hidden = true;
  emptyPane.hidden = false;
}

let saveDraftHook = null;
export function onLeave(hook) {
  saveDraftHook = hook;
}

// ---- paging -------------------------------------------------------------------

async function loadOlder() {
  if (!current || !current.hasOlder || current.loadingOlder || current.loading) return;
  const first = timeline.messageItems()[0];
  if (!first) return;
  const state = current;
  state.loadingOlder = true;
  historyStatus.textContent = gettext("Loading older messages…");
  try {
    const { messages, response } = await fetchPage(state.id, `before=${first.dataset.seq}&limit=${PAGE}`);
    if (state !== current) return;
    const previousHeight = scroller.scrollHeight;
    const fragment = document.createDocumentFragment();
    for (const message of messages) {
      if (state.versions.has(message.id)) continue;
      state.versions.set(message.id, message.version);
      fragment.append(timeline.messageElement(message));
    }
    list.prepend(fragment);
    timeline.decorate();
    scroller.scrollTop += scroller.scrollHeight - previousHeight;
    state.hasOlder = hasLink(response, "prev");
    paintHistoryStatus();
  } catch (error) {
    historyStatus.textContent = format(gettext("Could not load older messages (%(reason)s); scroll to retry."), { reason: error.message });
  } finally {
    state.loadingOlder = false;
  }
}

async function loadNewer() {
  if (!current || !current.hasNewer || current.loadingNewer || current.loading) return;
  const state = current;
  state.loadingNewer = true;
  try {
    const { messages, response } = await fetchPage(state.id, `after=${lastShownSeq()}&limit=${PAGE}`);
    if (state !== current) return;
    state.hasNewer = hasLink(response, "next");
    for (const message of messages) applyMessage(message);
    paintHistoryStatus();
    markRead();
  } catch {
    // Scrolling again retries.
  } finally {
    state.loadingNewer = false;
  }
}

function jumpToLatest() {
  if (!current) return;
  if (current.hasNewer) open(current.id);
  else scrollToBottom();
}

// ---- reading ------------------------------------------------------------------

export function markRead() {
  if (!current || current.loading || current.hasNewer) return;
  const seq = lastShownSeq();
  if (document.visibilityState !== "visible" || !nearBottom()) return;
  if (seq <= (current.readSeqs.get(store.me) || 0)) return;
  current.readSeqs.set(store.me, seq);
  const row = store.conversations.get(current.id);
  if (row) store.putConversation({ ...row, lastReadSeq: seq, unreadCount: 0, unreadMentions: 0 });
  live.send({ type: "read", conversationId: current.id, seq });
}

function updateSeen() {
  const mine = list.querySelectorAll("li.message.mine[data-seq]");
  const row = store.conversations.get(current.id);
  const others = row ? store.others(row) : [];
  if (!mine.length || !others.length) {
    seenLine.hidden = true;
    return;
  }
  const seq = Number(mine[mine.length - 1].dataset.seq);
  const readers = others.filter((id) => (current.readSeqs.get(id) || 0) >= seq);
  seenLine.hidden = readers.length === 0;
  seenLine.textContent =
    readers.length === others.length || others.length === 1
      ? gettext("Seen")
      : format(gettext("Seen by %(names)s"), { names: readers.map(store.nameOf).join(", ") });
  mine[mine.length - 1].querySelector(".bubble").append(seenLine);
}

// ---- typing -------------------------------------------------------------------

function showTyping() {
  const names = [...typingUsers.keys()].map(store.nameOf);
  typingLine.textContent = names.length
    ? format(ngettext("%(names)s is typing…", "%(names)s are typing…", names.length), { names: names.join(", ") })
    : "";
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

export function sendTyping(active) {
  clearTimeout(typingDeferred);
  if (!current || !live.isOpen()) return;
  const conversationId = current.id;
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

export function typed(hasText) {
  if (!hasText) {
    sendTyping(false);
    return;
  }
  sendTyping(true);
  clearTimeout(typingIdleTimer);
  typingIdleTimer = setTimeout(() => sendTyping(false), TYPING_IDLE_MS);
}

// ---- sending (the outbox) ------------------------------------------------------

function transmit(entry) {
  if (!live.isOpen()) return;
  const frame = {
    type: "message.send",
    conversationId: entry.conversationId,
    text: entry.text,
    clientMessageId: entry.clientMessageId,
  };
  if (entry.replyTo) frame.replyTo = entry.replyTo;
  if (entry.attachments?.length) frame.attachments = entry.attachments.map((attachment) => attachment.id);
  live.send(frame);
}

// `replyTo`: the id of the message this one answers, or null;
// `attachments`: the upload shapes of the files it sends (the outbox keeps
// them whole, so that the pending message shows them, also after a reload).
export function sendText(text, { replyTo = null, attachments = [] } = {}) {
  if (!current) return;
  const entry = {
    clientMessageId: crypto.randomUUID(),
    conversationId: current.id,
    replyTo,
    text,
    attachments,
    createdAt: new Date().toISOString(),
    failed: false,
    error: "",
  };
  outbox.add(entry);
  showPending();
  timeline.decorate();
  scrollToBottom();
  transmit(entry);
  clearTimeout(typingIdleTimer);
  sendTyping(false);
}

function resend(clientMessageId) {
  clearTimeout(retryTimers.get(clientMessageId));
  retryTimers.delete(clientMessageId);
  outbox.update(clientMessageId, { failed: false, error: "" });
  const entry = outbox.get(clientMessageId);
  if (!entry) return;
  if (current?.id === entry.conversationId) paintFailed(entry);
  transmit(entry);
}

function discardEntry(clientMessageId) {
  clearTimeout(retryTimers.get(clientMessageId));
  outbox.remove(clientMessageId);
  pendingNode(clientMessageId)?.remove();
  timeline.decorate();
}

// Every entry not refused goes (again) when the socket opens: a retry the
// server already stored is answered with the stored message, never twice.
export function flushOutbox() {
  for (const entry of outbox.all()) if (!entry.failed) transmit(entry);
}

function onAck(frame) {
  outbox.remove(frame.clientMessageId);
  clearTimeout(retryTimers.get(frame.clientMessageId));
  retryTimers.delete(frame.clientMessageId);
}

function refusedReason(frame) {
  if (frame.code === "throttled") {
    const seconds = frame.details?.retryAfterSeconds || 1;
    return format(ngettext("sending too fast, retrying in %(seconds)s second", "sending too fast, retrying in %(seconds)s seconds", seconds), { seconds });
  }
  return frame.message;
}

function onSendRefused(frame) {
  const entry = outbox.get(frame.clientMessageId);
  if (!entry) return false;
  outbox.update(entry.clientMessageId, { failed: true, error: refusedReason(frame) });
  const retryable = frame.code === "throttled" || (frame.status || 0) >= 500;
  if (retryable) {
    // throttled and overloaded (the server was too busy) say when to retry.
    const wait = frame.details?.retryAfterSeconds ? frame.details.retryAfterSeconds * 1000 : RETRY_UNAVAILABLE_MS;
    retryTimers.set(entry.clientMessageId, setTimeout(() => resend(entry.clientMessageId), wait));
  }
  if (current?.id === entry.conversationId) paintFailed(outbox.get(entry.clientMessageId));
  return true;
}

export function failAllPending(reason) {
  for (const entry of outbox.all()) outbox.update(entry.clientMessageId, { failed: true, error: reason });
  if (current) for (const entry of outbox.forConversation(current.id)) paintFailed(entry);
}

// ---- live frames -----------------------------------------------------------------

export function requestSync() {
  if (!current || !live) return;
  current.syncing = true;
  live.sync(current.id);
}

export function sinceVersion(conversationId) {
  return current?.id === conversationId ? current.lastVersion : store.conversations.get(conversationId)?.lastVersion || 0;
}

export function onFrame(frame) {
  if (frame.type === "message.ack") onAck(frame);
  if (frame.type === "error" && frame.clientMessageId && onSendRefused(frame)) return;
  if (!current || frame.conversationId !== current.id) return;
  if (current.loading && frame.type !== "error") {
    current.buffered.push(frame);
    return;
  }
  switch (frame.type) {
    case "message.new":
    case "message.updated":
    case "message.deleted":
    case "message.ack":
      if (frame.type !== "message.ack" && !current.syncing && frame.version > current.lastVersion + 1) requestSync();
      applyMessage(frame.message, { live: frame.type === "message.new" });
      if (!current.syncing) current.lastVersion = Math.max(current.lastVersion, frame.version);
      if (frame.message.sender !== store.me) {
        typingUsers.delete(frame.message.sender);
        showTyping();
      }
      markRead();
      break;
    case "sync.needed":
      requestSync();
      break;
    case "sync.done":
      current.syncing = false;
      current.lastVersion = Math.max(current.lastVersion, ...current.versions.values());
      markRead();
      break;
    case "typing":
      onTyping(frame);
      break;
    case "read":
      current.readSeqs.set(frame.userId, frame.seq);
      updateSeen();
      break;
    case "error":
      typingLine.textContent = frame.message;
      break;
  }
}

export function start(options) {
  live = options.live;
  outbox = options.outbox;
  new IntersectionObserver(
    (entries) => {
      if (entries.some((entry) => entry.isIntersecting)) loadOlder();
    },
    { root: scroller },
  ).observe(historyStatus);
  new IntersectionObserver(
    (entries) => {
      if (entries.some((entry) => entry.isIntersecting)) loadNewer();
    },
    { root: scroller },
  ).observe(newerStatus);
  scroller.addEventListener("scroll", () => {
    if (!current) return;
    if (nearBottom() && !current.hasNewer) current.unseenBelow = 0;
    paintJump();
    markRead();
  });
  jumpButton.addEventListener("click", jumpToLatest);
  document.addEventListener("visibilitychange", markRead);
}

export function messagesOf() {
  return timeline.messageItems();
}
