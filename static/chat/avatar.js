// Initials avatars with a colour that stays the same for a user everywhere
// (chosen from the user id; the colours are theme.css's --avatar-0..7).
const COLOURS = 8;

export function initials(name) {
  const words = (name || "?").trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : [words[0] || "?"];
  return letters
    .map((word) => [...word][0] || "")
    .join("")
    .toLocaleUpperCase();
}

export function colourIndex(key) {
  let hash = 0;
  for (const character of String(key)) hash = (hash * 31 + character.codePointAt(0)) >>> 0;
  return hash % COLOURS;
}

// Fills (or makes) a decorative avatar element for `key` (a user or conversation id).
export function avatar(key, name, element = document.createElement("span")) {
  element.classList.add("avatar");
  for (let index = 0; index < COLOURS; index += 1) {
    element.classList.toggle(`avatar-${index}`, index === colourIndex(key));
  }
  element.setAttribute("aria-hidden", "true");
  element.textContent = initials(name);
  return element;
}
