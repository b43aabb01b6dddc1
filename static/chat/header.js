// The header on every signed-in page: the light/dark toggle (saved on the
// user's profile, PATCH /api/users/me) and the user menu (closed by Escape
// or a click elsewhere).
import { api } from "./api.js";
import { avatar } from "./avatar.js";

const root = document.documentElement;
const toggle = document.getElementById("theme-toggle");
const menu = document.querySelector(".user-menu");
const darkQuery = window.matchMedia("(prefers-color-scheme: dark)");

for (const face of document.querySelectorAll("[data-avatar-for]")) {
  avatar(face.dataset.avatarFor, face.dataset.avatarName, face);
}

function effectiveTheme() {
  const chosen = root.dataset.theme;
  if (chosen === "light" || chosen === "dark") return chosen;
  return darkQuery.matches ? "dark" : "light";
}

function paintToggle() {
  toggle.setAttribute("aria-pressed", String(effectiveTheme() === "dark"));
}

toggle.addEventListener("click", async () => {
  const theme = effectiveTheme() === "dark" ? "light" : "dark";
  root.dataset.theme = theme;
  paintToggle();
  try {
    await api("PATCH", "/api/users/me", { theme });
  } catch {
    // Kept for this page; the profile page can save it later.
  }
});
darkQuery.addEventListener("change", paintToggle);
paintToggle();

document.addEventListener("click", (event) => {
  if (menu?.open && !menu.contains(event.target)) menu.open = false;
});
menu?.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && menu.open) {
    menu.open = false;
    menu.querySelector("summary").focus();
  }
});
