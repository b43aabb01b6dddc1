// The composer: grows with its text up to a limit, Enter sends and
// Shift+Enter starts a new line, Up arrow in an empty composer edits my last
// message, and each conversation keeps its draft in localStorage.
import * as actions from "./actions.js";
import * as conversation from "./conversation.js";

const form = document.getElementById("composer");
const input = document.getElementById("composer-text");
const MAX_HEIGHT_PX = 200;
const DRAFT_SAVE_MS = 300;
let drafts = null;
let draftFor = null;
let saveTimer = null;

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
  draftFor = conversationId;
  input.value = drafts.get(conversationId);
  input.placeholder = placeholder;
  grow();
}

function send() {
  const text = input.value;
  if (!text.trim()) return;
  conversation.sendText(text);
  input.value = "";
  drafts.set(draftFor, "");
  grow();
}

export function setEnabled(enabled) {
  for (const control of form.elements) control.disabled = !enabled;
}

export function focus() {
  input.focus();
}

export function start(options) {
  drafts = options.drafts;
  conversation.onLeave(saveDraft);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
    input.focus();
  });
  input.addEventListener("keydown", (event) => {
    if (event.isComposing) return;
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      send();
    } else if (event.key === "ArrowUp" && input.value === "" && actions.editLast()) {
      event.preventDefault();
    }
  });
  input.addEventListener("input", () => {
    grow();
    conversation.typed(Boolean(input.value));
    clearTimeout(saveTimer);
    saveTimer = setTimeout(saveDraft, DRAFT_SAVE_MS);
  });
  window.addEventListener("pagehide", saveDraft);
  return input;
}
