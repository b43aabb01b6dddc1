// The composer: grows with its text up to a limit, Enter sends and
// Shift+Enter starts a new line, Up arrow in an empty composer edits my last
// message, each conversation keeps its draft in localStorage, a reply shows
// what it answers above the box (Escape cancels it), and `@` suggests the
// conversation's members (arrows choose, Enter or Tab inserts). Files go
// with the text (uploads.js); Send waits while one is still uploading, and a
// message may then be files alone.
import * as actions from "./actions.js";
import { messageSummary } from "./attachments.js";
import * as conversation from "./conversation.js";
import { format, gettext } from "./i18n.js";
import * as store from "./store.js";
import * as uploads from "./uploads.js";

const form = document.getElementById("composer");
const input = document.getElementById("composer-text");
const sendButton = form.querySelector("button[type=submit]");
let enabled = true;
const MAX_HEIGHT_PX = 200;
const DRAFT_SAVE_MS = 300;
let drafts = null;
let draftFor = null;
let saveTimer = null;
let replying = null; // the message a reply answers
const replyBar = document.getElementById("reply-bar");
const replyText = document.getElementById("reply-bar-text");
const suggestions = document.getElementById("mention-suggestions");
const MENTION_AT_CARET = /(^|[\s(])@([\w.+-]*)$/;
let choices = [];
let chosen = 0;

export function replyTo(message) {
  if (!message) return;
  replying = message;
  const summary = messageSummary(message);
  const excerpt = summary.length > 80 ? `${summary.slice(0, 80)}…` : summary;
  replyText.textContent = format(gettext("Replying to %(name)s: %(text)s"), {
    name: store.nameOf(message.sender),
    text: excerpt,
  });
  replyBar.hidden = false;
  input.focus();
}

function cancelReply() {
  replying = null;
  replyBar.hidden = true;
}

function mentionQuery() {
  const match = MENTION_AT_CARET.exec(input.value.slice(0, input.selectionStart));
  return match ? match[2].toLowerCase() : null;
}

function paintSuggestions() {
  const query = mentionQuery();
  const row = store.conversations.get(conversation.currentId());
  const members = (row?.members || []).filter((member) => member.id !== store.me);
  choices =
    query === null
      ? []
      : members
          .filter((m) => m.username.toLowerCase().startsWith(query) || m.name.toLowerCase().includes(query))
          .slice(0, 8);
  chosen = Math.min(chosen, Math.max(choices.length - 1, 0));
  suggestions.hidden = !choices.length;
  suggestions.replaceChildren(
    ...choices.map((member, index) => {
      const option = document.createElement("li");
      option.id = `mention-option-${member.id}`;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", String(index === chosen));
      option.textContent = `${member.name} `;
      const handle = document.createElement("span");
      handle.className = "picker-username";
      handle.textContent = `@${member.username}`;
      option.append(handle);
      option.addEventListener("mousedown", (event) => event.preventDefault());
      option.addEventListener("click", () => insertMention(member));
      return option;
    }),
  );
  if (choices[chosen]) input.setAttribute("aria-activedescendant", `mention-option-${choices[chosen].id}`);
  else input.removeAttribute("aria-activedescendant");
}

function insertMention(member) {
  const before = input.value.slice(0, input.selectionStart).replace(/@[\w.+-]*$/, `@${member.username} `);
  const after = input.value.slice(input.selectionStart);
  input.value = before + after;
  input.setSelectionRange(before.length, before.length);
  choices = [];
  paintSuggestions();
  grow();
}

export function grow() {
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight + 2, MAX_HEIGHT_PX)}px`;
}

function saveDraft() {
  clearTimeout(saveTimer);
  if (draftFor !== null) drafts.set(draftFor, input.value);
}

// The composer now writes in `conversationId`: its draft comes back.
export function switchTo(conversationId, placeholder) {
  saveDraft();
  cancelReply();
  draftFor = conversationId;
  input.value = drafts.get(conversationId);
  input.placeholder = placeholder;
  grow();
  uploads.switchTo(conversationId);
}

function send() {
  if (uploads.busy()) return;
  const text = input.value;
  const attachments = uploads.ready();
  if (!text.trim() && !attachments.length) return;
  conversation.sendText(text.trim() ? text : "", { replyTo: replying?.id || null, attachments });
  uploads.sent();
  cancelReply();
  input.value = "";
  drafts.set(draftFor, "");
  grow();
}

// Send waits for the files still uploading.
function paintSend() {
  const waiting = uploads.busy();
  sendButton.disabled = !enabled || waiting;
  sendButton.title = waiting ? gettext("Waiting for the files to upload") : "";
}

export function setEnabled(on) {
  enabled = on;
  for (const control of form.elements) control.disabled = !on;
  paintSend();
}

export function focus() {
  input.focus();
}

export function start(options) {
  drafts = options.drafts;
  uploads.start({ drafts: options.attachmentDrafts, input, onChange: paintSend });
  conversation.onLeave(saveDraft);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
    input.focus();
  });
  input.setAttribute("aria-controls", "mention-suggestions");
  input.setAttribute("aria-autocomplete", "list");
  document.getElementById("reply-cancel").addEventListener("click", () => {
    cancelReply();
    input.focus();
  });
  input.addEventListener("keydown", (event) => {
    if (event.isComposing) return;
    if (choices.length && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      chosen = (chosen + (event.key === "ArrowDown" ? 1 : -1) + choices.length) % choices.length;
      paintSuggestions();
    } else if (choices.length && (event.key === "Enter" || event.key === "Tab")) {
      event.preventDefault();
      insertMention(choices[chosen]);
    } else if (event.key === "Escape" && (choices.length || replying)) {
      event.preventDefault();
      if (choices.length) {
        choices = [];
        suggestions.hidden = true;
      } else cancelReply();
    } else if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      send();
    } else if (event.key === "ArrowUp" && input.value === "" && actions.editLast()) {
      event.preventDefault();
    }
  });
  input.addEventListener("input", () => {
    grow();
    paintSuggestions();
    conversation.typed(Boolean(input.value));
    clearTimeout(saveTimer);
    saveTimer = setTimeout(saveDraft, DRAFT_SAVE_MS);
  });
  window.addEventListener("pagehide", saveDraft);
  return input;
}
