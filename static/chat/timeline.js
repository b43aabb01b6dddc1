// The open conversation's message list: one <li> per message in seq order,
// day separators ("Today", "Yesterday", a date), consecutive messages of one
// sender within GROUP_GAP_MS grouped under one name and avatar, system
// messages as centred notices, the "New messages" line, the formatting
// subset (format.js), the quoted message a reply answers, the attachments
// (attachments.js), the reaction bar. Message text only enters the page as
// text nodes.
import { attachmentsElement } from "./attachments.js";
import { avatar } from "./avatar.js";
import { dayKey, dayLabel, formatFull, formatTime } from "./dates.js";
import { formatted } from "./format.js";
import { format, gettext, ngettext } from "./i18n.js";
import { linkified } from "./linkify.js";
import * as store from "./store.js";

const GROUP_GAP_MS = 5 * 60 * 1000;

export const list = document.getElementById("message-list");
// The messages on screen as the server last sent them: message id -> message.
export const shown = new Map();

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
  if (!message.deletedAt) {
    bar.append(actionButton("react", gettext("React")), actionButton("reply", gettext("Reply")));
  }
  bar.append(actionButton("copy-link", gettext("Copy link")));
  if (message.sender === store.me && !message.deletedAt && message.kind !== "system") {
    bar.append(actionButton("edit", gettext("Edit")), actionButton("delete", gettext("Delete")));
  }
  return bar;
}

function usernamesOf(ids) {
  return new Set((ids || []).map((id) => (store.people.get(id)?.username || "").toLowerCase()).filter(Boolean));
}

// The message a reply answers, quoted above it: a button that goes there.
function replyQuote(reply) {
  const quote = element("button", "reply-quote");
  quote.type = "button";
  quote.dataset.replySeq = String(reply.seq);
  quote.append(element("span", "reply-sender", store.nameOf(reply.sender)));
  quote.append(
    element("span", "reply-excerpt", reply.deleted ? gettext("Original message deleted") : reply.excerpt),
  );
  quote.setAttribute(
    "aria-label",
    format(gettext("Reply to %(name)s: %(text)s. Go to the message."), {
      name: store.nameOf(reply.sender),
      text: reply.deleted ? gettext("Original message deleted") : reply.excerpt,
    }),
  );
  return quote;
}

// Each emoji with its count (pressed when it is mine; the names in its
// title), then a button to add one.
function reactionBar(message) {
  const bar = element("div", "reactions");
  for (const reaction of message.reactions || []) {
    const mine = reaction.users.includes(store.me);
    const button = element("button", `reaction${mine ? " mine" : ""}`);
    button.type = "button";
    button.dataset.emoji = reaction.emoji;
    button.setAttribute("aria-pressed", String(mine));
    const names = reaction.users.map(store.nameOf).join(", ");
    button.title = names;
    button.setAttribute(
      "aria-label",
      format(ngettext("%(emoji)s by %(names)s (%(count)s person)", "%(emoji)s by %(names)s (%(count)s people)", reaction.count), {
        emoji: reaction.emoji,
        names,
        count: reaction.count,
      }),
    );
    button.append(element("span", "reaction-emoji", reaction.emoji), element("span", "reaction-count", String(reaction.count)));
    bar.append(button);
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
  shown.set(message.id, message);
  const text = element("div", "text");
  if (message.deletedAt) text.textContent = gettext("This message was deleted");
  else if (system) text.append(linkified(message.text));
  else {
    const me = store.people.get(store.me)?.username || "";
    text.append(formatted(message.text, { mentioned: usernamesOf(message.mentions), me }));
    if ((message.mentions || []).includes(store.me)) node.classList.add("mentions-me");
  }
  // The full date and time: the tooltip for a pointer, this line for a tap (touch).
  const fullTime = element("span", "full-time", time.title);
  if (system) {
    node.replaceChildren(text, time, actionsFor(message));
    return node;
  }
  const meta = element("div", "meta");
  meta.append(element("span", "sender", store.nameOf(message.sender)), " ", time);
  const bubble = element("div", "bubble");
  bubble.append(meta);
  if (message.replyTo && !message.deletedAt) bubble.append(replyQuote(message.replyTo));
  bubble.append(text);
  const attachments = message.deletedAt ? [] : message.attachments || [];
  if (attachments.length) {
    text.hidden = !message.text;
    bubble.append(attachmentsElement(attachments));
  }
  if (message.editedAt && !message.deletedAt) {
    const edited = element("button", "edited", gettext("(edited)"));
    edited.type = "button";
    edited.dataset.action = "history";
    edited.setAttribute("aria-label", gettext("Edited: show the earlier versions"));
    bubble.append(edited);
  }
  bubble.append(fullTime);
  if (!message.deletedAt && (message.reactions || []).length) bubble.append(reactionBar(message));
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

// A reply quotes its original as it is now (docs/api.md "Replies"): the
// original's edit or delete redraws the replies to it that are on screen.
const EXCERPT_LENGTH = 140;
export function refreshQuotes(original) {
  for (const message of shown.values()) {
    if (message.replyTo?.id !== original.id) continue;
    const replyTo = {
      ...message.replyTo,
      excerpt: original.deletedAt ? "" : [...original.text].slice(0, EXCERPT_LENGTH).join(""),
      deleted: Boolean(original.deletedAt),
    };
    const item = itemFor(message.id);
    if (item) messageElement({ ...message, replyTo }, item);
  }
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
  if (entry.attachments?.length) {
    text.hidden = !entry.text;
    bubble.append(attachmentsElement(entry.attachments, { interactive: false }));
  }
  node.append(avatar(store.me, store.nameOf(store.me)), bubble);
  return node;
}
