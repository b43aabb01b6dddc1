// Messages not yet acknowledged by the server, kept in localStorage so that
// a message typed offline, or refused for now (rate limit, server down),
// survives a reload. Each keeps its clientMessageId: the server stores a
// retried send once (docs/api.md "Idempotent send"), so sending an entry
// again after a reload or a reconnect can never duplicate it.
// Drafts (the composer's unsent text and uploaded files per conversation)
// live here too.
const PREFIX = "chat:v1";

function key(me, kind) {
  return `${PREFIX}:${me}:${kind}`;
}

function read(storageKey, fallback) {
  try {
    return JSON.parse(localStorage.getItem(storageKey)) ?? fallback;
  } catch {
    return fallback;
  }
}

function write(storageKey, value) {
  try {
    localStorage.setItem(storageKey, JSON.stringify(value));
  } catch {
    // Storage full or disabled: the page still works, it just forgets on reload.
  }
}

export function createOutbox(me) {
  const storageKey = key(me, "outbox");
  const all = () => read(storageKey, []);
  return {
    all,
    forConversation: (conversationId) => all().filter((e) => e.conversationId === conversationId),
    get: (clientMessageId) => all().find((e) => e.clientMessageId === clientMessageId),
    add(entry) {
      write(storageKey, [...all(), entry]);
    },
    update(clientMessageId, changes) {
      write(
        storageKey,
        all().map((e) => (e.clientMessageId === clientMessageId ? { ...e, ...changes } : e)),
      );
    },
    remove(clientMessageId) {
      write(
        storageKey,
        all().filter((e) => e.clientMessageId !== clientMessageId),
      );
    },
  };
}

// One value per conversation (a draft's text, the files uploaded for the
// next message), dropped when it is `empty`.
function perConversation(me, kind, empty, isEmpty) {
  const storageKey = key(me, kind);
  return {
    get: (conversationId) => read(storageKey, {})[conversationId] ?? empty,
    set(conversationId, value) {
      const values = read(storageKey, {});
      if (isEmpty(value)) delete values[conversationId];
      else values[conversationId] = value;
      write(storageKey, values);
    },
  };
}

export function createDrafts(me) {
  return perConversation(me, "drafts", "", (text) => !text);
}

// Files uploaded but not sent yet (the server's upload shapes), so that a
// reload keeps the composer's chips; the server removes an upload not sent
// within a day (docs/operations.md).
export function createAttachmentDrafts(me) {
  return perConversation(me, "attachments", [], (uploads) => !uploads.length);
}
