// The open conversation's message list: one <li> per message in seq order,
// day separators ("Today", "Yesterday", a date), consecutive messages of one
// sender within GROUP_GAP_MS grouped under one name and avatar, system
// messages as centred notices, the "New messages" line, links in the text.
// Message text only enters the page as text nodes (linkify.js).
import { avatar } from "./avatar.js";
import { dayKey, dayLabel, formatFull, formatTime } from "./dates.js";
import { gettext } from "./i18n.js";
import { linkified } from "./linkify.js";
import * as store from "./store.js";

const GROUP_GAP_MS = 5 * 60 * 1000;

export const list = document.getElementById("message-list");

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function actionButton(action, label) {
  const button = element("button", `action action-${action}`);
  button.type = "button";
  button.dataset.action = action;
  button.title = label;
  button.append(element("span", "action-label", label));
  return button;
}

function actionsFor(message) {
  const bar = element("div", "message-actions");
  bar.setAttribute("role", "group");
  bar.setAttribute("aria-label", gettext("Message actions"));
  bar.append(actionButton("copy-link", gettext("Copy link")));
  if (message.sender === store.me && !message.deletedAt && message.kind !== "system") {
    bar.prepend(actionButton("edit", gettext("Edit")), actionButton("delete", gettext("Delete")));
  }
  return bar;
}

export function messageElement(message, node = element("li")) {
  const system = message.kind === "system";
  node.className = "message";
  node.classList.toggle("mine", message.sender === store.me && !system);
  node.classList.toggle("deleted", Boolean(message.deletedAt));
  node.classList.toggle("system", system);
  node.id = `m${message.seq}`;
  node.dataset.seq = String(message.seq);
  node.dataset.id = message.id;
  node.dataset.sender = message.sender ?? "";
  node.dataset.createdAt = message.createdAt;
  node.tabIndex = -1;
  const time = element("time", "", formatTime(message.createdAt));
  time.setAttribute("datetime", message.createdAt);
  time.title = formatFull(message.createdAt);
  const text = element("div", "text");
  if (message.deletedAt) text.textContent = gettext("This message was deleted");
  else text.append(linkified(message.text));
  // The full date and time: the tooltip for a pointer, this line for a tap (touch).
  const fullTime = element("span", "full-time", time.title);
  if (system) {
    node.replaceChildren(text, time, actionsFor(message));
    return node;
  }
  const meta = element("div", "meta");
  meta.append(element("span", "sender", store.nameOf(message.sender)), " ", time);
  const bubble = element("div", "bubble");
  bubble.append(meta, text);
  if (message.editedAt && !message.deletedAt) bubble.append(element("span", "edited", gettext("(edited)")));
  bubble.append(fullTime);
  node.replaceChildren(
    avatar(message.sender ?? "deleted", store.nameOf(message.sender)),
    bubble,
    actionsFor(message),
  );
  return node;
}

export function messageItems() {
  return [...list.querySelectorAll("li.message[data-seq]")];
}

export function itemFor(messageId) {
  return list.querySelector(`li.message[data-id="${CSS.escape(messageId)}"]`);
}

export function itemAt(seq) {
  return list.querySelector(`li.message[data-seq="${CSS.escape(String(seq))}"]`);
}

// Put a message where its seq says (before the pending ones), or replace it.
export function place(message) {
  const existing = itemFor(message.id);
  if (existing) return messageElement(message, existing);
  const node = messageElement(message);
  const later = messageItems().find((item) => Number(item.dataset.seq) > message.seq);
  list.insertBefore(node, later || list.querySelector("li.pending"));
  return node;
}

function separator(date) {
  const item = element("li", "day-separator");
  item.dataset.day = dayKey(date);
  item.append(element("span", "", dayLabel(date)));
  return item;
}

// Day separators and grouping, recomputed over the whole list after a change
// (a few hundred items at most: the list holds what was loaded).
export function decorate() {
  for (const old of list.querySelectorAll("li.day-separator")) old.remove();
  let previous = null;
  for (const item of list.querySelectorAll("li.message")) {
    const created = item.dataset.createdAt ? new Date(item.dataset.createdAt) : new Date();
    const newDay = !previous || dayKey(previous.created) !== dayKey(created);
    if (newDay && !item.classList.contains("pending")) list.insertBefore(separator(created), item);
    // A pending or failed message keeps its name line: its status, Retry
    // and Discard are there.
    const continued =
      previous &&
      !newDay &&
      !item.classList.contains("pending") &&
      !item.classList.contains("system") &&
      !previous.item.classList.contains("system") &&
      previous.item.dataset.sender === item.dataset.sender &&
      item.dataset.sender !== "" &&
      created - previous.created < GROUP_GAP_MS &&
      previous.item.nextElementSibling === item;
    item.classList.toggle("continued", Boolean(continued));
    previous = { item, created };
  }
  keepOneTabStop();
}

// The list is one tab stop (a roving tabindex: arrow keys move inside, see
// actions.js): the focused message keeps it, else the newest one has it.
function keepOneTabStop() {
  const items = messageItems();
  const holder = items.find((item) => item.tabIndex === 0) || items[items.length - 1];
  for (const item of items) item.tabIndex = item === holder ? 0 : -1;
}

// The "New messages" line before the first message after `readSeq`.
export function markFirstUnread(readSeq) {
  clearNewLine();
  const first = messageItems().find(
    (item) => Number(item.dataset.seq) > readSeq && item.dataset.sender !== store.me,
  );
  if (!first) return null;
  const line = element("li", "new-messages-line");
  line.id = "new-messages-line";
  line.append(element("span", "", gettext("New messages")));
  list.insertBefore(line, first);
  return line;
}

export function clearNewLine() {
  document.getElementById("new-messages-line")?.remove();
}

export function pendingElement(entry) {
  const node = element("li", "message mine pending");
  node.dataset.clientId = entry.clientMessageId;
  node.dataset.sender = store.me;
  node.dataset.createdAt = entry.createdAt;
  const meta = element("div", "meta");
  const status = element("span", "pending-status", gettext("Sending…"));
  meta.append(status);
  const text = element("div", "text");
  text.append(linkified(entry.text));
  const bubble = element("div", "bubble");
  bubble.append(meta, text);
  node.append(avatar(store.me, store.nameOf(store.me)), bubble);
  return node;
}
