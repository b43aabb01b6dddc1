// The chat page: the conversation list beside the open conversation (one
// pane at a time below 900 px), one socket for every conversation, and
// navigation between conversations without reloading the page
// (history.pushState; Back and Forward work; /c/{id}/ also renders on the
// server). The modules beside this one each own one concern.
import * as actions from "./actions.js";
import { api } from "./api.js";
import * as composer from "./composer.js";
import * as conversation from "./conversation.js";
import { format, gettext } from "./i18n.js";
import * as lightbox from "./lightbox.js";
import { connectLive, pageData, resetPresence, setPresence } from "./live.js";
import * as manage from "./manage.js";
import * as notify from "./notify.js";
import { createAttachmentDrafts, createDrafts, createOutbox } from "./outbox.js";
import * as picker from "./picker.js";
import * as search from "./search.js";
import * as sidebar from "./sidebar.js";
import * as store from "./store.js";
import * as switcher from "./switcher.js";

const data = pageData();
const workspace = document.getElementById("workspace");
const APP_NAME = gettext("Chat");

store.start(data);
const outbox = createOutbox(store.me);
const drafts = createDrafts(store.me);
const attachmentDrafts = createAttachmentDrafts(store.me);

function conversationPath(conversationId, seq) {
  return `/c/${encodeURIComponent(conversationId)}/${seq ? `#m${seq}` : ""}`;
}

function titleFor(conversationId) {
  const row = conversationId && store.conversations.get(conversationId);
  return row ? `${store.conversationName(row)} · ${APP_NAME}` : APP_NAME;
}

function showConversation(conversationId) {
  workspace.dataset.view = conversationId ? "conversation" : "list";
  sidebar.setActive(conversationId);
  notify.setBaseTitle(titleFor(conversationId));
  if (conversationId) {
    const row = store.conversations.get(conversationId);
    const name = row ? store.conversationName(row) : "";
    composer.switchTo(conversationId, format(gettext("Message %(name)s"), { name }));
  }
}

// Opens a conversation (or the list, for null) and records it in the history.
function navigate(conversationId, { seq = null, push = true } = {}) {
  if (push) history.pushState({ conversationId }, "", conversationId ? conversationPath(conversationId, seq) : "/");
  if (!conversationId) {
    conversation.close();
    showConversation(null);
    return;
  }
  showConversation(conversationId);
  conversation.open(conversationId, { focusSeq: seq });
  if (window.matchMedia("(min-width: 900px)").matches) composer.focus();
}

function routeFromLocation() {
  const match = /^\/c\/(\d+)\/$/.exec(location.pathname);
  const conversationId = match ? match[1] : null;
  if (conversationId === conversation.currentId()) {
    const seq = conversation.seqFromHash();
    if (seq) conversation.open(conversationId, { focusSeq: seq });
    return;
  }
  navigate(conversationId, { seq: conversation.seqFromHash(), push: false });
}

// Same-page links to a conversation (the list, the switcher, message links).
document.addEventListener("click", (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest("a[href]");
  if (!link || link.target || link.origin !== location.origin) return;
  const match = /^\/c\/(\d+)\/$/.exec(link.pathname);
  if (match) {
    event.preventDefault();
    const seq = /^#m(\d+)$/.exec(link.hash);
    navigate(match[1], { seq: seq ? Number(seq[1]) : null });
  } else if (link.pathname === "/" && link.id === "back") {
    event.preventDefault();
    navigate(null);
  }
});
window.addEventListener("popstate", routeFromLocation);

// ---- live events into the store -------------------------------------------------

function onMessageEvent(frame) {
  const row = store.conversations.get(frame.conversationId);
  if (!row) {
    refreshConversations();
    return;
  }
  const message = frame.message;
  const changes = { lastVersion: Math.max(row.lastVersion || 0, frame.version || 0) };
  const newest = !row.lastMessage || message.seq >= row.lastMessage.seq;
  if (newest) {
    changes.lastMessage = message;
    changes.lastSeq = Math.max(row.lastSeq || 0, message.seq);
    changes.lastMessageAt = message.createdAt;
  }
  const fresh = frame.type === "message.new" && message.seq > (row.lastSeq || 0);
  if (fresh && message.sender !== store.me && message.seq > (row.lastReadSeq || 0)) {
    changes.unreadCount = (row.unreadCount || 0) + 1;
    if ((message.mentions || []).includes(store.me)) changes.unreadMentions = (row.unreadMentions || 0) + 1;
  }
  if (message.sender === store.me && (fresh || frame.type === "message.ack")) {
    changes.lastReadSeq = Math.max(row.lastReadSeq || 0, message.seq);
  }
  store.putConversation({ ...row, ...changes });
  if (fresh) notify.notifyMessage(frame);
}

async function refreshConversation(conversationId) {
  try {
    const { data: row } = await api("GET", `/api/conversations/${encodeURIComponent(conversationId)}/details`);
    store.putConversation(row);
  } catch {
    // The next reconnect refreshes the whole list.
  }
}

// A row the server read before this page's newest read mark reached it: the
// mark wins (the list is re-read while a `read` frame is on its way).
function readSince(row) {
  const known = store.conversations.get(row.id);
  if (!known || (known.lastReadSeq || 0) <= (row.lastReadSeq || 0)) return row;
  const caughtUp = known.lastReadSeq >= (row.lastSeq || 0);
  return {
    ...row,
    lastReadSeq: known.lastReadSeq,
    unreadCount: caughtUp ? 0 : row.unreadCount,
    unreadMentions: caughtUp ? 0 : row.unreadMentions,
  };
}

async function refreshConversations() {
  try {
    const { data: rows } = await api("GET", "/api/conversations");
    const ids = new Set(rows.map((row) => row.id));
    for (const id of [...store.conversations.keys()]) if (!ids.has(id)) store.dropConversation(id);
    // Unsent messages of a conversation I am no longer in can never be sent.
    for (const entry of outbox.all()) if (!ids.has(entry.conversationId)) outbox.remove(entry.clientMessageId);
    for (const row of rows) store.putConversation(readSince(row), { quiet: true });
    store.changed();
    conversation.paintHeader();
  } catch {
    // Offline: the socket's reconnect tries again.
  }
}

function leftConversation(conversationId, notice) {
  store.dropConversation(conversationId);
  if (conversation.currentId() === conversationId) {
    navigate(null);
    if (notice) actions.showToast(notice);
  }
}

function onFrame(frame) {
  switch (frame.type) {
    case "message.new":
    case "message.updated":
    case "message.deleted":
    case "message.ack":
      onMessageEvent(frame);
      break;
    case "read":
      if (frame.userId === store.me) {
        const row = store.conversations.get(frame.conversationId);
        if (row && frame.seq >= (row.lastSeq || 0)) {
          store.putConversation({ ...row, lastReadSeq: frame.seq, unreadCount: 0, unreadMentions: 0 });
        }
        else if (row && frame.seq > (row.lastReadSeq || 0)) refreshConversation(frame.conversationId);
      }
      break;
    case "conversation.new":
    case "conversation.updated":
      store.putConversation(frame.conversation);
      if (!frame.conversation.members) refreshConversation(frame.conversation.id);
      if (frame.conversation.id === conversation.currentId()) {
        conversation.paintHeader();
        showConversation(frame.conversation.id);
      }
      break;
    case "conversation.removed":
    case "conversation.deleted":
      leftConversation(frame.conversationId, gettext("You are no longer in that conversation."));
      break;
    case "membership.updated": {
      const row = store.conversations.get(frame.conversationId);
      if (row) store.putConversation({ ...row, muted: frame.muted });
      break;
    }
    case "presence":
      setPresence(frame.userId, frame.online);
      break;
    case "sync.needed":
      // Live events came too late to be sent: the open conversation syncs
      // (conversation.js), any other's row is read again.
      if (frame.conversationId !== conversation.currentId()) refreshConversation(frame.conversationId);
      break;
  }
  conversation.onFrame(frame);
}

const live = connectLive({
  statusElement: document.getElementById("connection"),
  onFrame,
  onSignedOut() {
    composer.setEnabled(false);
    conversation.failAllPending(gettext("you are signed out"));
  },
  sinceVersion: conversation.sinceVersion,
  onOpen() {
    // This socket is mine: I am online, whoever else the server names.
    setPresence(store.me, true);
    refreshConversations();
    conversation.requestSync();
    conversation.flushOutbox();
  },
});

conversation.start({ live, outbox });
const composerInput = composer.start({ drafts, attachmentDrafts });
actions.start({
  composer: composerInput,
  onReply: composer.replyTo,
  onGoTo: (seq) => navigate(conversation.currentId(), { seq }),
});
sidebar.start();
search.start();
lightbox.start();
notify.start({
  isOnScreen: conversation.isOnScreen,
  openConversation: (conversationId, seq) => navigate(conversationId, { seq }),
});
switcher.start({ openConversation: (conversationId) => navigate(conversationId) });
picker.start();
manage.start({ afterLeave: (conversationId) => leftConversation(conversationId, "") });
resetPresence(data.online);
setPresence(store.me, true);

function startConversation() {
  picker.show({
    kind: "new",
    onDone(row) {
      store.putConversation(row);
      navigate(row.id);
    },
  });
}
document.getElementById("new-conversation").addEventListener("click", (event) => {
  event.preventDefault();
  startConversation();
});
document.getElementById("conversation-settings").addEventListener("click", () => manage.show(conversation.currentId()));

history.replaceState({ conversationId: data.open?.conversationId || null }, "", location.href);
if (data.open) {
  showConversation(data.open.conversationId);
  conversation.openRendered(data.open);
} else {
  showConversation(null);
}
if (data.openPicker) startConversation();
