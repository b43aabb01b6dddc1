// Message text as DOM nodes: text nodes, and links for the URLs in it
// (http, https, and www. addresses), opened in a new tab without an opener.
// Built with DOM calls only: the text never becomes HTML.
const URL_PATTERN = /\b(?:https?:\/\/|www\.)[^\s<>"']+/gi;
// Punctuation that ends a sentence rather than the URL.
const TRAILING = /[.,;:!?)\]}'"]+$/;

function link(address) {
  const anchor = document.createElement("a");
  const href = address.startsWith("www.") ? `https://${address}` : address;
  anchor.href = href;
  anchor.textContent = address;
  anchor.target = "_blank";
  anchor.rel = "noopener noreferrer";
  return anchor;
}

function balancedEnd(address) {
  // Keep a closing parenthesis that closes one opened in the URL (Wikipedia links).
  let end = address.replace(TRAILING, "");
  const opened = (end.match(/\(/g) || []).length;
  const closed = (end.match(/\)/g) || []).length;
  if (opened > closed && address.slice(end.length).startsWith(")")) end += ")";
  return end;
}

export function linkified(text) {
  const fragment = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const address = balancedEnd(match[0]);
    if (!address || !/[a-z0-9]/i.test(address.replace(/^(https?:\/\/|www\.)/i, ""))) continue;
    fragment.append(text.slice(last, match.index), link(address));
    last = match.index + address.length;
  }
  fragment.append(text.slice(last));
  return fragment;
}
