// The quick switcher: Ctrl+K (Cmd+K) opens a dialog to jump to any
// conversation by name; arrow keys choose, Enter opens, Escape closes.
import { gettext } from "./i18n.js";
import * as store from "./store.js";

const dialog = document.getElementById("switcher");
const input = document.getElementById("switcher-input");
const results = document.getElementById("switcher-results");
let choices = [];
let chosen = 0;
let openConversation = () => {};

function paint() {
  const query = input.value.trim().toLocaleLowerCase();
  choices = store
    .byActivity()
    .filter((row) => store.conversationName(row).toLocaleLowerCase().includes(query))
    .slice(0, 20);
  chosen = Math.min(chosen, Math.max(choices.length - 1, 0));
  results.replaceChildren(
    ...choices.map((row, index) => {
      const option = document.createElement("li");
      option.id = `switcher-option-${row.id}`;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", String(index === chosen));
      option.textContent = store.conversationName(row);
      if (row.unreadCount) {
        const badge = document.createElement("span");
        badge.className = "unread";
        badge.textContent = String(row.unreadCount);
        option.append(" ", badge);
      }
      option.addEventListener("click", () => choose(index));
      return option;
    }),
  );
  if (!choices.length) {
    const none = document.createElement("li");
    none.className = "empty";
    none.textContent = gettext("No conversation matches.");
    results.append(none);
  }
  if (choices[chosen]) input.setAttribute("aria-activedescendant", `switcher-option-${choices[chosen].id}`);
  else input.removeAttribute("aria-activedescendant");
}

function choose(index) {
  const row = choices[index];
  if (!row) return;
  dialog.close();
  openConversation(row.id);
}

export function show() {
  input.value = "";
  chosen = 0;
  paint();
  dialog.showModal();
  input.focus();
}

export function start(options) {
  openConversation = options.openConversation;
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "k") {
      event.preventDefault();
      if (dialog.open) dialog.close();
      else show();
    }
  });
  document.getElementById("open-switcher")?.addEventListener("click", show);
  input.addEventListener("input", () => {
    chosen = 0;
    paint();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      chosen = (chosen + step + choices.length) % Math.max(choices.length, 1);
      paint();
    } else if (event.key === "Enter") {
      event.preventDefault();
      choose(chosen);
    }
  });
}
