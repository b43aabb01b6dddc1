// Message search in the sidebar: the box above the conversation filter asks
// GET /api/search/messages?q=… (after a pause in typing, or at once on
// Enter) and the sidebar shows the results instead of the conversation list
// until the box is cleared (Escape, or its clear button): each result names
// its conversation, sender and date, with the snippet's matches marked
// (<mark> built from the server's code point offsets with DOM calls, never
// HTML), "Load more" follows the Link rel="next", and a result is a link to
// /c/{id}/#m{seq} (app.js opens the conversation there and highlights the
// message). Down arrow goes from the box to the results, Up and Down move
// between them, Escape goes back to the box.
import { api, linkTarget } from "./api.js";
import { formatFull, formatStamp } from "./dates.js";
import { format, gettext } from "./i18n.js";
import * as store from "./store.js";

const SEARCH_DELAY_MS = 300;
const PAGE = 20;

const box = document.getElementById("message-search");
const sidebar = box.closest(".sidebar");
const panel = document.getElementById("search-panel");
const statusLine = document.getElementById("search-status");
const results = document.getElementById("search-results");
const more = document.getElementById("search-more");

let timer = null;
let serial = 0;
let query = "";
let nextUrl = null;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// The snippet's text with its [start, end) code point ranges in <mark>.
export function markedSnippet(snippet) {
  const characters = Array.from(snippet?.text || "");
  const ranges = (snippet?.highlights || [])
    .map(([start, end]) => [Math.max(0, start), Math.min(characters.length, end)])
    .filter(([start, end]) => start < end)
    .sort((a, b) => a[0] - b[0]);
  const fragment = document.createDocumentFragment();
  let at = 0;
  for (const [start, end] of ranges) {
    if (end <= at) continue;
    const from = Math.max(start, at);
    if (from > at) fragment.append(characters.slice(at, from).join(""));
    fragment.append(element("mark", "", characters.slice(from, end).join("")));
    at = end;
  }
  if (at < characters.length) fragment.append(characters.slice(at).join(""));
  return fragment;
}

function conversationNameOf(conversationId) {
  const row = store.conversations.get(conversationId);
  return row ? store.conversationName(row) : gettext("Conversation");
}

function resultItem({ message, snippet }) {
  const item = element("li", "search-result");
  const link = element("a", "search-result-link");
  link.href = `/c/${encodeURIComponent(message.conversationId)}/#m${message.seq}`;
  link.dataset.conversationId = message.conversationId;
  link.dataset.seq = String(message.seq);
  const top = element("span", "result-top");
  const time = element("time", "result-time", formatStamp(message.createdAt));
  time.setAttribute("datetime", message.createdAt);
  time.title = formatFull(message.createdAt);
  top.append(element("strong", "result-conversation", conversationNameOf(message.conversationId)), time);
  const text = element("span", "result-snippet");
  text.append(markedSnippet(snippet));
  const sender = message.sender === store.me ? gettext("You") : store.nameOf(message.sender);
  link.append(top, element("span", "result-sender", sender), text);
  item.append(link);
  return item;
}

function showStatus(text) {
  statusLine.textContent = text;
  statusLine.hidden = !text;
}

function showError(error) {
  const reason = error instanceof TypeError ? gettext("no connection") : error.message;
  showStatus(format(gettext("Search failed (%(reason)s)."), { reason }));
  const retry = element("button", "link-button", gettext("Try again"));
  retry.type = "button";
  retry.addEventListener("click", () => (results.children.length ? loadMore() : run()));
  statusLine.append(" ", retry);
}

async function fetchResults(url, searchSerial) {
  const { data, response } = await api("GET", url);
  if (searchSerial !== serial) return false;
  results.append(...data.results.map(resultItem));
  nextUrl = linkTarget(response, "next");
  more.hidden = !nextUrl;
  return true;
}

function setSearching(on) {
  sidebar.classList.toggle("searching", on);
  panel.hidden = !on;
}

// Searches for what the box holds now.
async function run() {
  clearTimeout(timer);
  const text = box.value.trim();
  if (!text) {
    clear({ keepBox: true });
    return;
  }
  if (text === query && !statusLine.querySelector("button")) return;
  query = text;
  const searchSerial = ++serial;
  setSearching(true);
  results.replaceChildren();
  more.hidden = true;
  nextUrl = null;
  showStatus(gettext("Searching…"));
  try {
    const params = new URLSearchParams({ q: text, limit: String(PAGE) });
    if (!(await fetchResults(`/api/search/messages?${params}`, searchSerial))) return;
    showStatus(results.children.length ? "" : format(gettext("No messages match “%(query)s”."), { query: text }));
  } catch (error) {
    if (searchSerial === serial) showError(error);
  }
}

async function loadMore() {
  if (!nextUrl) return;
  const searchSerial = serial;
  const first = results.children.length;
  more.disabled = true;
  showStatus("");
  try {
    if (await fetchResults(nextUrl, searchSerial)) results.children[first]?.querySelector("a")?.focus();
  } catch (error) {
    if (searchSerial === serial) showError(error);
  } finally {
    more.disabled = false;
  }
}

// Back to the conversation list.
function clear({ keepBox = false } = {}) {
  clearTimeout(timer);
  serial += 1;
  query = "";
  nextUrl = null;
  if (!keepBox) box.value = "";
  results.replaceChildren();
  showStatus("");
  setSearching(false);
}

function links() {
  return [...results.querySelectorAll("a.search-result-link")];
}

function moveFocus(from, by) {
  const all = links();
  const target = all[all.indexOf(from) + by];
  if (target) target.focus();
  else if (by < 0) box.focus();
}

export function start() {
  box.addEventListener("input", () => {
    clearTimeout(timer);
    if (!box.value.trim()) clear({ keepBox: true });
    else timer = setTimeout(run, SEARCH_DELAY_MS);
  });
  box.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && (box.value || panel.hidden === false)) {
      event.preventDefault();
      clear();
    } else if (event.key === "Enter") {
      event.preventDefault();
      run();
    } else if (event.key === "ArrowDown" && links().length) {
      event.preventDefault();
      links()[0].focus();
    }
  });
  panel.addEventListener("keydown", (event) => {
    const link = event.target.closest("a.search-result-link");
    if (event.key === "Escape") {
      event.preventDefault();
      box.focus();
      clear();
    } else if (link && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      moveFocus(link, event.key === "ArrowDown" ? 1 : -1);
    }
  });
  results.addEventListener("click", (event) => {
    const link = event.target.closest("a.search-result-link");
    if (!link) return;
    for (const other of links()) other.removeAttribute("aria-current");
    link.setAttribute("aria-current", "true");
  });
  more.addEventListener("click", loadMore);
}
