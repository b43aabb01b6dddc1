// The conversation's settings dialog: mute (mine), rename a group, its
// members (add through the picker, remove if I own the group or am an
// agent), leave a group, close or reopen (agents). Each is one REST call;
// every member's page hears of it as a live event and a system notice.
import { api } from "./api.js";
import { format, gettext } from "./i18n.js";
import * as picker from "./picker.js";
import * as store from "./store.js";

const dialog = document.getElementById("settings");
const renameForm = document.getElementById("rename-form");
const renameInput = document.getElementById("rename-input");
const muteBox = document.getElementById("mute-toggle");
const memberList = document.getElementById("settings-members");
const addButton = document.getElementById("add-people");
const leaveButton = document.getElementById("leave-conversation");
const closeButton = document.getElementById("close-conversation");
const reopenButton = document.getElementById("reopen-conversation");
const errorLine = document.getElementById("settings-error");
let conversationId = null;
let afterLeave = () => {};

function path(suffix) {
  return `/api/conversations/${encodeURIComponent(conversationId)}/${suffix}`;
}

async function attempt(work) {
  errorLine.textContent = "";
  try {
    await work();
  } catch (error) {
    errorLine.textContent = error.message;
  }
}

function paint() {
  const row = store.conversations.get(conversationId);
  if (!row) {
    dialog.close();
    return;
  }
  const group = row.kind === "group";
  const role = store.myRole(row);
  const manager = role === "owner" || role === "agent";
  renameForm.hidden = !group;
  if (document.activeElement !== renameInput) renameInput.value = row.title || "";
  muteBox.checked = Boolean(row.muted);
  addButton.hidden = !group;
  leaveButton.hidden = !group;
  closeButton.hidden = role !== "agent" || row.status === "closed";
  reopenButton.hidden = role !== "agent" || row.status !== "closed";
  memberList.replaceChildren(
    ...(row.members || []).map((member) => {
      const item = document.createElement("li");
      const name = document.createElement("span");
      name.textContent = member.id === store.me ? format(gettext("%(name)s (you)"), { name: member.name }) : member.name;
      const handle = document.createElement("span");
      handle.className = "picker-username";
      handle.textContent = `@${member.username}`;
      item.append(name, " ", handle);
      if (member.role === "owner") {
        const badge = document.createElement("span");
        badge.className = "role";
        badge.textContent = gettext("owner");
        item.append(" ", badge);
      }
      if (group && manager && member.id !== store.me) {
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "secondary small";
        remove.textContent = gettext("Remove");
        remove.setAttribute("aria-label", format(gettext("Remove %(name)s"), { name: member.name }));
        remove.addEventListener("click", () =>
          attempt(() => api("DELETE", path(`members/${encodeURIComponent(member.id)}`))),
        );
        item.append(" ", remove);
      }
      return item;
    }),
  );
}

export function show(id) {
  conversationId = id;
  errorLine.textContent = "";
  paint();
  dialog.showModal();
}

export function start(options) {
  afterLeave = options.afterLeave;
  store.subscribe((changedId) => {
    if (dialog.open && (changedId === conversationId || changedId === undefined)) paint();
  });
  renameForm.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(async () => {
      const { data } = await api("PATCH", path("details"), { title: renameInput.value.trim() });
      store.putConversation(data);
    });
  });
  muteBox.addEventListener("change", () =>
    attempt(async () => {
      const { data } = await api("PATCH", path("membership"), { muted: muteBox.checked });
      const row = store.conversations.get(conversationId);
      if (row) store.putConversation({ ...row, muted: data.muted });
    }),
  );
  addButton.addEventListener("click", () => {
    const row = store.conversations.get(conversationId);
    dialog.close();
    picker.show({
      kind: "add",
      conversationId,
      members: row?.users || [],
      onDone: (data) => store.putConversation(data),
    });
  });
  leaveButton.addEventListener("click", () =>
    attempt(async () => {
      await api("DELETE", path(`members/${encodeURIComponent(store.me)}`));
      dialog.close();
      const left = conversationId;
      store.dropConversation(left);
      afterLeave(left);
    }),
  );
  closeButton.addEventListener("click", () => attempt(() => api("POST", path("close"))));
  reopenButton.addEventListener("click", () => attempt(() => api("POST", path("reopen"))));
  document.getElementById("settings-done").addEventListener("click", () => dialog.close());
}
