// What the page knows: who I am, the people I share conversations with,
// and my conversations as the API's rows (GET /api/conversations), kept
// current by the live events. Views subscribe and repaint.
import { format, gettext } from "./i18n.js";

const listeners = new Set();
export const people = new Map(); // user id -> {id, name, username}
export const conversations = new Map(); // conversation id -> row
export let me = null;

export function start(data) {
  me = data.me;
  rememberPeople(data.people);
  for (const row of data.conversations) putConversation(row, { quiet: true });
}

export function subscribe(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function changed(conversationId) {
  for (const listener of listeners) listener(conversationId);
}

export function rememberPeople(list) {
  for (const person of list || []) {
    const known = people.get(person.id) || {};
    people.set(person.id, { ...known, ...person });
  }
}

export function nameOf(userId) {
  if (userId === null || userId === undefined) return gettext("Deleted user");
  return people.get(userId)?.name || format(gettext("User %(id)s"), { id: userId });
}

export function putConversation(row, { quiet = false } = {}) {
  rememberPeople(row.members);
  const known = conversations.get(row.id);
  conversations.set(row.id, { unreadCount: 0, lastReadSeq: 0, muted: false, ...known, ...row });
  if (!quiet) changed(row.id);
}

export function dropConversation(conversationId) {
  if (conversations.delete(conversationId)) changed(conversationId);
}

export function others(row) {
  return (row.users || []).filter((id) => id !== me);
}

// The conversation's name as I see it: its title, else the other people's names.
export function conversationName(row) {
  if (row.title) return row.title;
  if (row.kind === "direct" && row.name) return row.name;
  const names = others(row).map(nameOf);
  if (!names.length) return format(gettext("%(name)s (you)"), { name: nameOf(me) });
  return row.name || names.join(", ");
}

// Conversations by latest activity, newest first (the API's order).
export function byActivity() {
  const stamp = (row) => row.lastMessageAt || row.createdAt || "";
  return [...conversations.values()].sort(
    (a, b) => stamp(b).localeCompare(stamp(a)) || Number(b.id) - Number(a.id),
  );
}

// The tab title's count: unread messages of conversations not muted, and
// the mentions of me in muted ones (a mention gets through a mute).
export function unreadTotal() {
  let total = 0;
  for (const row of conversations.values()) {
    total += row.muted ? row.unreadMentions || 0 : row.unreadCount || 0;
  }
  return total;
}

export function myRole(row) {
  return (row.members || []).find((member) => member.id === me)?.role || "member";
}
