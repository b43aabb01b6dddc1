// The people picker: search by display name or username on the server
// (GET /api/users?search=…, a few results at a time, so it stays usable
// with any number of users), presence, keyboard selection (arrow keys,
// Enter to pick, Backspace in an empty box to drop the last one). It starts
// a conversation (one person: direct, more: a group with an optional name)
// or adds people to a group.
import { api } from "./api.js";
import { avatar } from "./avatar.js";
import { format, gettext } from "./i18n.js";
import { setPresence } from "./live.js";
import * as store from "./store.js";

const RESULTS = 20;
const SEARCH_DELAY_MS = 200;
const dialog = document.getElementById("picker");
const heading = document.getElementById("picker-title");
const form = document.getElementById("picker-form");
const input = document.getElementById("picker-search");
const results = document.getElementById("picker-results");
const chips = document.getElementById("picker-chips");
const titleRow = document.getElementById("picker-title-row");
const titleInput = document.getElementById("picker-group-title");
const submit = document.getElementById("picker-submit");
const errorLine = document.getElementById("picker-error");

let mode = null; // {kind: "new"} or {kind: "add", conversationId, members}
let found = [];
let active = 0;
let picked = new Map(); // user id -> user
let searchTimer = null;
let searchSerial = 0;
let onDone = () => {};

function optionId(user) {
  return `picker-option-${user.id}`;
}

function paintResults() {
  results.replaceChildren(
    ...found.map((user, index) => {
      const option = document.createElement("li");
      option.id = optionId(user);
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", String(picked.has(user.id)));
      option.classList.toggle("active", index === active);
      const dot = document.createElement("span");
      dot.className = `dot${user.online ? " online" : ""}`;
      dot.setAttribute("aria-hidden", "true");
      const name = document.createElement("span");
      name.className = "picker-name";
      name.textContent = user.displayName || user.username;
      const handle = document.createElement("span");
      handle.className = "picker-username";
      handle.textContent = `@${user.username}`;
      const presence = document.createElement("span");
      presence.className = "visually-hidden";
      presence.textContent = user.online ? gettext("(online)") : gettext("(offline)");
      option.append(avatar(user.id, name.textContent), dot, name, handle, presence);
      option.addEventListener("mousedown", (event) => event.preventDefault());
      option.addEventListener("click", () => toggle(user));
      return option;
    }),
  );
  if (!found.length && input.value.trim()) {
    const none = document.createElement("li");
    none.className = "empty";
    none.textContent = gettext("Nobody found.");
    results.append(none);
  }
  if (found[active]) input.setAttribute("aria-activedescendant", optionId(found[active]));
  else input.removeAttribute("aria-activedescendant");
}

function paintChips() {
  chips.replaceChildren(
    ...[...picked.values()].map((user) => {
      const chip = document.createElement("li");
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "chip";
      const name = user.displayName || user.username;
      remove.textContent = `${name} ×`;
      remove.setAttribute("aria-label", format(gettext("Remove %(name)s"), { name }));
      remove.addEventListener("click", () => {
        toggle(user);
        input.focus();
      });
      chip.append(remove);
      return chip;
    }),
  );
  titleRow.hidden = mode?.kind !== "new" || picked.size < 2;
  submit.disabled = picked.size === 0;
}

function toggle(user) {
  if (picked.has(user.id)) picked.delete(user.id);
  else picked.set(user.id, user);
  paintChips();
  paintResults();
}

async function search() {
  const query = input.value.trim();
  const serial = ++searchSerial;
  try {
    const params = new URLSearchParams({ search: query, limit: String(RESULTS + 10) });
    const { data } = await api("GET", `/api/users?${params}`);
    if (serial !== searchSerial) return;
    const excluded = new Set([store.me, ...(mode?.members || [])]);
    found = data.filter((user) => !excluded.has(user.id)).slice(0, RESULTS);
    active = 0;
    errorLine.textContent = "";
    paintResults();
  } catch (error) {
    if (serial === searchSerial) errorLine.textContent = error.message;
  }
}

export function show(options) {
  mode = options;
  onDone = options.onDone;
  picked = new Map();
  found = [];
  input.value = "";
  titleInput.value = "";
  errorLine.textContent = "";
  heading.textContent = mode.kind === "add" ? gettext("Add people") : gettext("New conversation");
  submit.textContent = mode.kind === "add" ? gettext("Add") : gettext("Start");
  paintChips();
  paintResults();
  dialog.showModal();
  input.focus();
  search();
}

async function commit(event) {
  event.preventDefault();
  if (!picked.size) return;
  const users = [...picked.keys()];
  for (const user of picked.values()) setPresence(user.id, Boolean(user.online));
  submit.disabled = true;
  try {
    if (mode.kind === "add") {
      const { data } = await api("POST", `/api/conversations/${encodeURIComponent(mode.conversationId)}/members`, { users });
      dialog.close();
      onDone(data);
    } else {
      const body = { users: [store.me, ...users] };
      if (users.length > 1 && titleInput.value.trim()) body.title = titleInput.value.trim();
      const { data } = await api("POST", "/api/conversations", body);
      dialog.close();
      onDone(data);
    }
  } catch (error) {
    errorLine.textContent = error.message;
    submit.disabled = false;
  }
}

export function start() {
  form.addEventListener("submit", commit);
  input.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(search, SEARCH_DELAY_MS);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!found.length) return;
      active = (active + (event.key === "ArrowDown" ? 1 : -1) + found.length) % found.length;
      paintResults();
      document.getElementById(optionId(found[active]))?.scrollIntoView({ block: "nearest" });
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (found[active] && input.value.trim()) {
        toggle(found[active]);
        input.select();
      } else if (picked.size) {
        form.requestSubmit();
      } else if (found[active]) {
        toggle(found[active]);
      }
    } else if (event.key === "Backspace" && input.value === "" && picked.size) {
      const last = [...picked.values()].pop();
      toggle(last);
    }
  });
  document.getElementById("picker-cancel").addEventListener("click", () => dialog.close());
}
