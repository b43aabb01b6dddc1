// Message actions, by pointer (the toolbar shown on hover or tap) and by
// keyboard (arrow keys move between messages, Enter opens the toolbar's
// first button, R replies, E edits, Delete deletes, Escape goes back to the
// composer): react (the emoji picker, or a click on a reaction to toggle
// it), reply, edit in place, delete after a confirmation, copy a link, the
// edit history behind "(edited)", and the quoted message of a reply.
// Every action is a REST call; the result comes back as a live event.
import { api } from "./api.js";
import * as conversation from "./conversation.js";
import { formatFull } from "./dates.js";
import { format, gettext } from "./i18n.js";
import * as store from "./store.js";
import * as timeline from "./timeline.js";

const list = timeline.list;
const confirmDialog = document.getElementById("confirm-delete");
const emojiDialog = document.getElementById("emoji-picker");
const historyDialog = document.getElementById("edit-history");
const toast = document.getElementById("toast");
let toastTimer = null;
let composerInput = null;

export function showToast(text) {
  toast.textContent = text;
  toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    toast.hidden = true;
  }, 3000);
}

function messagePath(item) {
  return `/api/messages/${encodeURIComponent(conversation.currentId())}/${encodeURIComponent(item.dataset.id)}`;
}

function textOf(item) {
  return timeline.shown.get(item.dataset.id)?.text ?? item.querySelector(".text").textContent;
}

export function startEdit(item) {
  if (!item || item.querySelector("form.edit-form")) return;
  const text = item.querySelector(".text");
  const form = document.createElement("form");
  form.className = "edit-form";
  const label = document.createElement("label");
  label.className = "visually-hidden";
  label.textContent = gettext("Edit message");
  const input = document.createElement("textarea");
  input.value = textOf(item);
  input.rows = Math.min(8, input.value.split("\n").length + 1);
  input.maxLength = 4000;
  const id = `edit-${item.dataset.id}`;
  input.id = id;
  label.htmlFor = id;
  const save = document.createElement("button");
  save.type = "submit";
  save.textContent = gettext("Save");
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.className = "secondary";
  cancel.textContent = gettext("Cancel");
  const hint = document.createElement("p");
  hint.className = "edit-hint";
  hint.textContent = gettext("Enter to save, Escape to cancel");
  form.append(label, input, save, cancel, hint);
  text.hidden = true;
  text.after(form);
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
  const finish = () => {
    form.remove();
    text.hidden = false;
    item.focus();
  };
  cancel.addEventListener("click", finish);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      finish();
    } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = input.value;
    if (!value.trim() || value === textOf(item)) {
      finish();
      return;
    }
    save.disabled = true;
    try {
      await api("PATCH", messagePath(item), { text: value });
      finish();
    } catch (error) {
      save.disabled = false;
      showToast(error.message);
    }
  });
}

// Up arrow in an empty composer: my newest message that can still be edited.
export function editLast() {
  const mine = [...list.querySelectorAll("li.message.mine[data-seq]:not(.deleted)")];
  const item = mine[mine.length - 1];
  if (!item) return false;
  item.scrollIntoView({ block: "nearest" });
  startEdit(item);
  return true;
}

async function confirmDelete(item) {
  confirmDialog.querySelector(".confirm-preview").textContent = textOf(item);
  confirmDialog.returnValue = "";
  confirmDialog.showModal();
  await new Promise((resolve) => confirmDialog.addEventListener("close", resolve, { once: true }));
  if (confirmDialog.returnValue !== "delete") {
    item.focus();
    return;
  }
  try {
    await api("DELETE", messagePath(item));
    item.focus();
  } catch (error) {
    showToast(error.message);
  }
}

async function copyLink(item) {
  const url = `${location.origin}/c/${conversation.currentId()}/#m${item.dataset.seq}`;
  try {
    await navigator.clipboard.writeText(url);
    showToast(gettext("Link copied"));
  } catch {
    showToast(url);
  }
}

async function toggleReaction(item, emoji) {
  const message = timeline.shown.get(item.dataset.id);
  const mine = (message?.reactions || []).some((r) => r.emoji === emoji && r.users.includes(store.me));
  try {
    if (mine) await api("DELETE", `${messagePath(item)}/reactions/${encodeURIComponent(emoji)}`);
    else await api("POST", `${messagePath(item)}/reactions`, { emoji });
  } catch (error) {
    showToast(error.message);
  }
}

async function chooseEmoji(item) {
  emojiDialog.returnValue = "";
  emojiDialog.showModal();
  await new Promise((resolve) => emojiDialog.addEventListener("close", resolve, { once: true }));
  if (emojiDialog.returnValue) await toggleReaction(item, emojiDialog.returnValue);
  item.focus();
}

async function showHistory(item) {
  const versions = historyDialog.querySelector(".history-versions");
  versions.replaceChildren();
  historyDialog.showModal();
  try {
    const { data } = await api("GET", `${messagePath(item)}/history`);
    versions.replaceChildren(
      ...data.map((version) => {
        const entry = document.createElement("li");
        const when = document.createElement("p");
        when.className = "history-when";
        when.textContent = format(gettext("%(name)s, %(when)s"), {
          name: store.nameOf(version.by),
          when: formatFull(version.at),
        });
        const text = document.createElement("p");
        text.className = "history-text";
        text.textContent = version.text;
        entry.append(when, text);
        return entry;
      }),
    );
  } catch (error) {
    versions.textContent = error.message;
  }
}

function run(action, item) {
  if (action === "react") chooseEmoji(item);
  else if (action === "reply") replyTo(item);
  else if (action === "history") showHistory(item);
  else if (action === "edit") startEdit(item);
  else if (action === "delete") confirmDelete(item);
  else if (action === "copy-link") copyLink(item);
}

function moveFocus(item, step) {
  const items = timeline.messageItems();
  const next = items[items.indexOf(item) + step];
  if (!next) return;
  item.tabIndex = -1;
  next.tabIndex = 0;
  next.focus();
  next.scrollIntoView({ block: "nearest" });
}

let replyTo = () => {};
let goToMessage = () => {};

export function start({ composer, onReply, onGoTo }) {
  composerInput = composer;
  replyTo = (item) => onReply(timeline.shown.get(item.dataset.id));
  goToMessage = onGoTo;
  list.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    const item = event.target.closest("li.message[data-id]");
    if (!item) return;
    if (button) {
      run(button.dataset.action, item);
      return;
    }
    const reaction = event.target.closest("button.reaction[data-emoji]");
    if (reaction) {
      toggleReaction(item, reaction.dataset.emoji);
      return;
    }
    const quote = event.target.closest("button.reply-quote");
    if (quote) {
      goToMessage(Number(quote.dataset.replySeq));
      return;
    }
    // A tap on a message (not on a link or a file) shows its actions and full time (touch screens).
    if (!event.target.closest("a, form, .attachments")) {
      for (const other of list.querySelectorAll("li.selected")) if (other !== item) other.classList.remove("selected");
      item.classList.toggle("selected");
    }
  });
  list.addEventListener("keydown", (event) => {
    const item = event.target.closest("li.message[data-id]");
    if (!item || event.target !== item) return;
    const mine = item.classList.contains("mine") && !item.classList.contains("deleted");
    if (event.key === "ArrowUp") moveFocus(item, -1);
    else if (event.key === "ArrowDown") moveFocus(item, 1);
    else if (event.key === "Enter") item.querySelector(".message-actions button")?.focus();
    else if ((event.key === "e" || event.key === "E") && mine) startEdit(item);
    else if ((event.key === "r" || event.key === "R") && !item.classList.contains("deleted")) replyTo(item);
    else if ((event.key === "Delete" || event.key === "Backspace") && mine) confirmDelete(item);
    else if (event.key === "Escape") composerInput.focus();
    else return;
    event.preventDefault();
  });
  list.addEventListener("focusin", (event) => {
    const item = event.target.closest("li.message[data-id]");
    if (item && event.target === item) {
      for (const other of timeline.messageItems()) other.tabIndex = other === item ? 0 : -1;
    }
  });
}
