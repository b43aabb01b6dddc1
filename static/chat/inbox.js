// The conversation list: unread counts, last message and order, kept live.
// Frames update it as they come; a resync (GET /api/conversations) puts it
// right after anything the page could have missed: a reconnect, a return
// from the back/forward cache, a conversation it does not show yet.
import {
  connectLive,
  formatTime,
  pageData,
  repaintPresence,
  resetPresence,
  setPresence,
} from "./live.js";

const data = pageData();
const list = document.getElementById("conversation-list");
const emptyNote = document.getElementById("empty-inbox");

for (const time of list.querySelectorAll("time.last-time")) {
  time.textContent = formatTime(time.getAttribute("datetime"));
}
resetPresence(data.online);

function rowFor(conversationId) {
  return list.querySelector(`li[data-conversation-id="${CSS.escape(conversationId)}"]`);
}

function setUnread(row, count) {
  const badge = row.querySelector(".unread");
  badge.dataset.count = String(count);
  badge.hidden = count <= 0;
  badge.lastChild.textContent = String(count);
}

function setLastMessage(row, text, createdAt) {
  row.querySelector(".last-message").textContent = text;
  const time = row.querySelector("time.last-time");
  time.setAttribute("datetime", createdAt || "");
  time.textContent = formatTime(createdAt);
}

function onMessage(frame) {
  const row = rowFor(frame.conversationId);
  if (!row) {
    resync();
    return;
  }
  const message = frame.message;
  if (frame.type === "message.new" && Number(row.dataset.lastSeq) < message.seq) {
    row.dataset.lastSeq = String(message.seq);
    if (message.sender !== data.me) {
      setUnread(row, Number(row.querySelector(".unread").dataset.count) + 1);
    }
    setLastMessage(row, message.text, message.createdAt);
    list.prepend(row);
  } else if (frame.type === "message.deleted" && Number(row.dataset.lastSeq) === message.seq) {
    row.querySelector(".last-message").textContent = "Message deleted";
  } else if (frame.type === "message.updated" && Number(row.dataset.lastSeq) === message.seq) {
    row.querySelector(".last-message").textContent = message.text;
  }
}

// -- resync ---------------------------------------------------------------------

const userNames = new Map(); // user id -> display name, fetched for new rows
// A new row of a group without a title names this many members, then "+N".
const NAMED_MEMBERS = 5;

async function userName(userId) {
  if (!userNames.has(userId)) {
    const response = await fetch(`/api/users/${userId}`, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    userNames.set(userId, response.ok ? (await response.json()).displayName : `User ${userId}`);
  }
  return userNames.get(userId);
}

// As the server names it (conversations.selectors.display_names), except
// that a big untitled group names its first NAMED_MEMBERS members only.
async function conversationName(conversation) {
  if (conversation.title) return conversation.title;
  const others = conversation.users.filter((id) => id !== data.me);
  if (!others.length) return `${await userName(data.me)} (you)`;
  const names = await Promise.all(others.slice(0, NAMED_MEMBERS).map(userName));
  const more = others.length - names.length;
  return names.join(", ") + (more > 0 ? ` +${more}` : "");
}

function span(className, text = "") {
  const element = document.createElement("span");
  element.className = className;
  element.textContent = text;
  return element;
}

// The same markup as templates/chat/inbox.html renders.
function newRow(conversation, name) {
  const row = document.createElement("li");
  row.className = "conversation-row";
  row.dataset.conversationId = conversation.id;
  row.dataset.lastSeq = "0";
  const link = document.createElement("a");
  link.href = `/c/${encodeURIComponent(conversation.id)}/`;
  const top = span("row-top");
  const title = document.createElement("strong");
  title.className = "conversation-name";
  title.textContent = name;
  const time = document.createElement("time");
  time.className = "last-time";
  const unread = span("unread");
  unread.append(span("visually-hidden", "Unread: "), document.createTextNode("0"));
  top.append(span("presence-dots"), title, time, unread);
  link.append(top, span("last-message"));
  row.append(link);
  return row;
}

function setMembers(row, users) {
  const members = users.join(",");
  if (row.dataset.members === members) return;
  row.dataset.members = members;
  const dots = users
    .filter((id) => id !== data.me)
    .map((id) => {
      const dot = span("dot");
      dot.dataset.userId = id;
      dot.setAttribute("aria-hidden", "true");
      return dot;
    });
  row.querySelector(".presence-dots").replaceChildren(...dots);
}

function lastMessageText(message) {
  if (!message) return "No messages yet";
  return message.deletedAt ? "Message deleted" : message.text;
}

// Put the list in the server's order with the server's counts, except where
// a live frame already brought something newer than the snapshot.
function applySnapshot(conversations, names) {
  const fresher = [];
  const ordered = [];
  for (const conversation of conversations) {
    let row = rowFor(conversation.id);
    if (!row) row = newRow(conversation, names.get(conversation.id));
    else if (Number(row.dataset.lastSeq) > conversation.lastSeq) {
      fresher.push(row);
      continue;
    }
    row.dataset.lastSeq = String(conversation.lastSeq);
    setMembers(row, conversation.users);
    setUnread(row, conversation.unreadCount);
    setLastMessage(row, lastMessageText(conversation.lastMessage), conversation.lastMessageAt);
    ordered.push(row);
  }
  const rows = [...fresher, ...ordered];
  const keep = new Set(rows);
  for (const gone of list.querySelectorAll("li.conversation-row")) {
    if (!keep.has(gone)) gone.remove();
  }
  // Move only what is out of place (a moved row loses keyboard focus).
  rows.forEach((row, index) => {
    if (list.children[index] !== row) list.insertBefore(row, list.children[index] || null);
  });
  emptyNote.hidden = rows.length > 0;
  repaintPresence();
}

let resyncing = false;
let resyncAgain = false;

// One snapshot at a time; asked again meanwhile, it runs once more after.
async function resync() {
  if (resyncing) {
    resyncAgain = true;
    return;
  }
  resyncing = true;
  try {
    do {
      resyncAgain = false;
      const response = await fetch("/api/conversations", {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok) return; // signed out or failing: the socket tells the user
      const conversations = await response.json();
      const names = new Map();
      for (const conversation of conversations) {
        if (!rowFor(conversation.id)) {
          names.set(conversation.id, await conversationName(conversation));
        }
      }
      applySnapshot(conversations, names);
    } while (resyncAgain);
  } catch {
    // The network went away again: the socket's reconnect resyncs once it is back.
  } finally {
    resyncing = false;
  }
}

connectLive({
  statusElement: document.getElementById("connection"),
  onOpen: resync,
  onFrame(frame) {
    if (frame.type.startsWith("message.") && frame.type !== "message.ack") onMessage(frame);
    // Its row comes from the snapshot, which has my unread count and the last message.
    else if (frame.type === "conversation.new") resync();
    else if (frame.type === "presence") setPresence(frame.userId, frame.online);
    else if (frame.type === "read" && frame.userId === data.me) {
      const row = rowFor(frame.conversationId);
      if (row) setUnread(row, Math.max(0, Number(row.dataset.lastSeq) - frame.seq));
    }
  },
});
