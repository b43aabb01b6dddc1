// Message actions, by pointer (the toolbar shown on hover or tap) and by
// keyboard (arrow keys move between messages, Enter opens the toolbar's
// first button, E edits, Delete deletes, Escape goes back to the composer):
// edit in place, delete after a confirmation, copy a link to the message.
// Every action is a REST call; the result comes back as a live event.
import { api } from "./api.js";
import * as conversation from "./conversation.js";
import { gettext } from "./i18n.js";
import * as timeline from "./timeline.js";

const list = timeline.list;
const confirmDialog = document.getElementById("confirm-delete");
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
  return item.querySelector(".text").textContent;
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

function run(action, item) {
  if (action === "edit") startEdit(item);
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

export function start({ composer }) {
  composerInput = composer;
  list.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    const item = event.target.closest("li.message[data-id]");
    if (!item) return;
    if (button) {
      run(button.dataset.action, item);
      return;
    }
    // A tap on a message (not on a link) shows its actions and full time (touch screens).
    if (!event.target.closest("a, form")) {
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
