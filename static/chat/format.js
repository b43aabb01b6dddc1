// The message formatting subset, rendered with DOM calls only (never HTML
// strings, so no markup in a message can become an element or attribute):
// fenced code blocks (```), `code`, **bold**, _italic_, links for URLs
// (linkify.js), line breaks (the text keeps its newlines, white-space:
// pre-wrap), and @username highlighted when the server resolved it as a
// mention. Everything else stays the literal text. API clients get the same
// `text` and the same rules (docs/api.md "Formatting").
import { linkified } from "./linkify.js";

const FENCE = /```[^\n`]*\n([\s\S]*?)\n?```/g;
const CODE = /`([^`\n]+)`/g;
const BOLD = /\*\*(?=\S)([\s\S]*?\S)\*\*/g;
const ITALIC = /(^|[\s([{"'.,;:!?-])_(?=[^\s_])([^_\n]*?[^\s_])_(?=$|[\s)\]}"'.,;:!?-])/g;
const MENTION = /(^|[^\w@.])@([\w.+-]*\w)/g;

function element(tag, className, children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.append(...children);
  return node;
}

// Text with its URLs as links and its resolved @mentions highlighted.
function leaves(text, context) {
  const fragment = linkified(text);
  if (!context.mentioned.size) return fragment;
  for (const node of [...fragment.childNodes]) {
    if (node.nodeType !== Node.TEXT_NODE) continue;
    const parts = [];
    let last = 0;
    for (const match of node.data.matchAll(MENTION)) {
      const username = match[2].toLowerCase();
      if (!context.mentioned.has(username)) continue;
      const start = match.index + match[1].length;
      parts.push(node.data.slice(last, start));
      const mark = element("span", "mention", [`@${match[2]}`]);
      if (username === context.me) mark.classList.add("mention-me");
      parts.push(mark);
      last = start + 1 + match[2].length;
    }
    if (parts.length) node.replaceWith(...parts, node.data.slice(last));
  }
  return fragment;
}

// Splits `text` by `pattern`: the matches through `wrap`, the rest through `rest`.
function split(text, pattern, wrap, rest) {
  const out = [];
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    out.push(rest(text.slice(last, match.index)), wrap(match));
    last = match.index + match[0].length;
  }
  out.push(rest(text.slice(last)));
  return out;
}

function italics(text, context) {
  return split(
    text,
    ITALIC,
    (match) => {
      const fragment = document.createDocumentFragment();
      fragment.append(leaves(match[1], context), element("em", "", [leaves(match[2], context)]));
      return fragment;
    },
    (part) => leaves(part, context),
  );
}

function emphasis(text, context) {
  return split(
    text,
    BOLD,
    (match) => element("strong", "", italics(match[1], context)),
    (part) => {
      const fragment = document.createDocumentFragment();
      fragment.append(...italics(part, context));
      return fragment;
    },
  );
}

function inline(text, context) {
  return split(
    text,
    CODE,
    (match) => element("code", "", [match[1]]),
    (part) => {
      const fragment = document.createDocumentFragment();
      fragment.append(...emphasis(part, context));
      return fragment;
    },
  );
}

// `mentioned`: the usernames the server resolved (lower case); `me`: mine.
export function formatted(text, { mentioned = new Set(), me = "" } = {}) {
  const context = { mentioned, me: me.toLowerCase() };
  const fragment = document.createDocumentFragment();
  fragment.append(
    ...split(
      text,
      FENCE,
      (match) => element("pre", "", [element("code", "", [match[1]])]),
      (part) => {
        const inner = document.createDocumentFragment();
        inner.append(...inline(part, context));
        return inner;
      },
    ),
  );
  return fragment;
}
