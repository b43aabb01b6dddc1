// Attention: the unread total in the tab title ("(3) Chat"), and desktop
// notifications for a message from someone else in a conversation that is
// not on screen (or when the tab is hidden). Notifications are asked for
// with a visible button, never on page load; muted conversations raise no
// notification and add nothing to the title (their badge still shows),
// except for a mention of me.
import { messageSummary } from "./attachments.js";
import { format, gettext } from "./i18n.js";
import * as store from "./store.js";

const button = document.getElementById("enable-notifications");
let baseTitle = document.title;
let isOnScreen = () => false;
let openConversation = () => {};

export function setBaseTitle(text) {
  baseTitle = text;
  paintTitle();
}

export function paintTitle() {
  const total = store.unreadTotal();
  document.title = total ? `(${total}) ${baseTitle}` : baseTitle;
}

function paintButton() {
  const supported = "Notification" in window;
  button.hidden = !supported || Notification.permission !== "default";
}

export function notifyMessage(frame) {
  const message = frame.message;
  if (frame.type !== "message.new" || message.sender === store.me || message.kind === "system") return;
  const row = store.conversations.get(frame.conversationId);
  const mentionsMe = (message.mentions || []).includes(store.me);
  if (!row || (row.muted && !mentionsMe) || isOnScreen(frame.conversationId)) return;
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  const sender = store.nameOf(message.sender);
  const titleText =
    row.kind === "group"
      ? format(gettext("%(name)s in %(conversation)s"), { name: sender, conversation: store.conversationName(row) })
      : sender;
  const notification = new Notification(titleText, {
    body: messageSummary(message).slice(0, 200),
    tag: `conversation-${frame.conversationId}`,
  });
  notification.addEventListener("click", () => {
    window.focus();
    openConversation(frame.conversationId, message.seq);
    notification.close();
  });
}

export function start(options) {
  isOnScreen = options.isOnScreen;
  openConversation = options.openConversation;
  paintButton();
  button.addEventListener("click", async () => {
    await Notification.requestPermission();
    paintButton();
  });
  store.subscribe(paintTitle);
  paintTitle();
}
