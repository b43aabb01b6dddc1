// The conversation list: unread counts, last message and order, kept live.
import { connectLive, formatTime, pageData, setPresence } from "./live.js";

const data = pageData();
const list = document.getElementById("conversation-list");

for (const time of list.querySelectorAll("time.last-time")) {
  time.textContent = formatTime(time.getAttribute("datetime"));
}
for (const userId of data.online) setPresence(userId, true);

function rowFor(conversationId) {
  return list.querySelector(`li[data-conversation-id="${CSS.escape(conversationId)}"]`);
}

function setUnread(row, count) {
  const badge = row.querySelector(".unread");
  badge.dataset.count = String(count);
  badge.hidden = count <= 0;
  badge.lastChild.textContent = String(count);
}

function onMessage(frame) {
  const row = rowFor(frame.conversationId);
  if (!row) {
    location.reload();
    return;
  }
  const message = frame.message;
  if (frame.type === "message.new" && Number(row.dataset.lastSeq) < message.seq) {
    row.dataset.lastSeq = String(message.seq);
    if (message.sender !== data.me) {
      setUnread(row, Number(row.querySelector(".unread").dataset.count) + 1);
    }
    row.querySelector(".last-message").textContent = message.text;
    const time = row.querySelector("time.last-time");
    time.setAttribute("datetime", message.createdAt);
    time.textContent = formatTime(message.createdAt);
    list.prepend(row);
  } else if (frame.type === "message.deleted" && Number(row.dataset.lastSeq) === message.seq) {
    row.querySelector(".last-message").textContent = "Message deleted";
  } else if (frame.type === "message.updated" && Number(row.dataset.lastSeq) === message.seq) {
    row.querySelector(".last-message").textContent = message.text;
  }
}

connectLive({
  statusElement: document.getElementById("connection"),
  onFrame(frame) {
    if (frame.type.startsWith("message.") && frame.type !== "message.ack") onMessage(frame);
    else if (frame.type === "conversation.new") location.reload();
    else if (frame.type === "presence") setPresence(frame.userId, frame.online);
    else if (frame.type === "read" && frame.userId === data.me) {
      const row = rowFor(frame.conversationId);
      if (row) setUnread(row, Math.max(0, Number(row.dataset.lastSeq) - frame.seq));
    }
  },
});
