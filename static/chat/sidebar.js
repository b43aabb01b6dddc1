// The conversation list: one row per conversation (name, presence for a
// direct chat, the last message with "You:" or its sender, time or date,
// unread badge, muted), in activity order, filtered by the box above it,
// repainted from the store whenever a live event changes a conversation.
import { messageSummary } from "./attachments.js";
import { avatar } from "./avatar.js";
import { formatStamp } from "./dates.js";
import { format, gettext, ngettext } from "./i18n.js";
import { repaintPresence } from "./live.js";
import * as store from "./store.js";

const list = document.getElementById("conversation-list");
const filterBox = document.getElementById("conversation-filter");
const emptyNote = document.getElementById("empty-inbox");
const noMatch = document.getElementById("no-match");
let activeId = null;

function span(className, text = "") {
  const element = document.createElement("span");
  element.className = className;
  element.textContent = text;
  return element;
}

export function preview(row) {
  const message = row.lastMessage;
  if (!message) return gettext("No messages yet");
  if (message.deletedAt) return gettext("Message deleted");
  if (message.kind === "system") return message.text;
  const text = messageSummary(message);
  if (message.sender === store.me) return format(gettext("You: %(text)s"), { text });
  if (row.kind === "group") return format(gettext("%(name)s: %(text)s"), { name: store.nameOf(message.sender), text });
  return text;
}

function fillRow(element, row) {
  element.className = "conversation-row";
  element.dataset.conversationId = row.id;
  element.dataset.lastSeq = String(row.lastSeq || 0);
  element.dataset.members = (row.users || []).join(",");
  const unread = row.unreadCount || 0;
  element.classList.toggle("has-unread", unread > 0);
  element.classList.toggle("muted", Boolean(row.muted));
  element.classList.toggle("active", row.id === activeId);
  let link = element.querySelector("a");
  if (!link) {
    link = document.createElement("a");
    element.append(link);
  }
  link.href = `/c/${encodeURIComponent(row.id)}/`;
  if (row.id === activeId) link.setAttribute("aria-current", "page");
  else link.removeAttribute("aria-current");
  const name = store.conversationName(row);
  const peer = row.kind === "direct" ? store.others(row)[0] : null;
  const face = span("row-avatar");
  face.append(avatar(peer || `c${row.id}`, peer ? store.nameOf(peer) : name));
  if (peer) {
    const dot = span("dot");
    dot.dataset.userId = peer;
    dot.setAttribute("aria-hidden", "true");
    face.append(dot);
  }
  const top = span("row-top");
  const title = document.createElement("strong");
  title.className = "conversation-name";
  title.textContent = name;
  const time = document.createElement("time");
  time.className = "last-time";
  const stamp = row.lastMessage?.createdAt || row.lastMessageAt || "";
  time.setAttribute("datetime", stamp);
  time.textContent = formatStamp(stamp);
  top.append(title, time);
  const bottom = span("row-bottom");
  const badge = span("unread");
  badge.dataset.count = String(unread);
  badge.hidden = unread <= 0;
  badge.append(
    String(unread),
    span("visually-hidden", ` ${ngettext("unread message", "unread messages", unread)}`),
  );
  const extras = [];
  if (row.muted) extras.push(span("muted-mark", gettext("Muted")));
  if (row.unreadMentions > 0) {
    const at = span("mention-badge", "@");
    at.title = gettext("You were mentioned");
    at.append(span("visually-hidden", ` ${gettext("You were mentioned")}`));
    extras.push(at);
  }
  bottom.append(span("last-message", preview(row)), ...extras, badge);
  const body = span("row-body");
  body.append(top, bottom);
  link.replaceChildren(face, body);
}

function matches(row, query) {
  if (!query) return true;
  const names = [store.conversationName(row), ...store.others(row).map(store.nameOf)];
  const usernames = (row.members || []).map((member) => member.username || "");
  return [...names, ...usernames].some((text) => text.toLocaleLowerCase().includes(query));
}

export function render() {
  const query = filterBox.value.trim().toLocaleLowerCase();
  const rows = store.byActivity();
  const existing = new Map(
    [...list.querySelectorAll("li.conversation-row")].map((li) => [li.dataset.conversationId, li]),
  );
  let position = 0;
  for (const row of rows) {
    const element = existing.get(row.id) || document.createElement("li");
    existing.delete(row.id);
    fillRow(element, row);
    element.hidden = !matches(row, query);
    // Moved only when out of place: moving the focused row would drop focus.
    if (list.children[position] !== element) list.insertBefore(element, list.children[position] || null);
    position += 1;
  }
  for (const stale of existing.values()) stale.remove();
  emptyNote.hidden = rows.length > 0;
  noMatch.hidden = !rows.length || rows.some((row) => matches(row, query));
  repaintPresence();
}

export function setActive(conversationId) {
  activeId = conversationId;
  render();
}

export function start() {
  filterBox.addEventListener("input", render);
  filterBox.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      filterBox.value = "";
      render();
    } else if (event.key === "Enter") {
      const first = list.querySelector("li.conversation-row:not([hidden]) a");
      if (first) {
        event.preventDefault();
        first.click();
      }
    }
  });
  store.subscribe(render);
  render();
}
