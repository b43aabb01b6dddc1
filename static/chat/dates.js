// Dates and times in the page's language and the browser's time zone.
import { gettext, locale } from "./i18n.js";

const time = new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit" });
const full = new Intl.DateTimeFormat(locale, { dateStyle: "full", timeStyle: "short" });
const dayThisYear = new Intl.DateTimeFormat(locale, {
  weekday: "long",
  day: "numeric",
  month: "long",
});
const dayOtherYear = new Intl.DateTimeFormat(locale, { dateStyle: "long" });
const shortDate = new Intl.DateTimeFormat(locale, { day: "numeric", month: "short" });
const shortDateOtherYear = new Intl.DateTimeFormat(locale, { dateStyle: "short" });

export function dayKey(date) {
  return `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`;
}

function daysBefore(date, now) {
  const start = (value) => new Date(value.getFullYear(), value.getMonth(), value.getDate());
  return Math.round((start(now) - start(date)) / 86400000);
}

export function formatTime(iso) {
  return iso ? time.format(new Date(iso)) : "";
}

export function formatFull(iso) {
  return iso ? full.format(new Date(iso)) : "";
}

// "Today", "Yesterday", "Monday, 3 March", or "3 March 2025": the day separators.
export function dayLabel(date, now = new Date()) {
  const days = daysBefore(date, now);
  if (days === 0) return gettext("Today");
  if (days === 1) return gettext("Yesterday");
  return (date.getFullYear() === now.getFullYear() ? dayThisYear : dayOtherYear).format(date);
}

// The conversation list's stamp: a time today, "Yesterday", else a short date.
export function formatStamp(iso, now = new Date()) {
  if (!iso) return "";
  const date = new Date(iso);
  const days = daysBefore(date, now);
  if (days === 0) return time.format(date);
  if (days === 1) return gettext("Yesterday");
  return (date.getFullYear() === now.getFullYear() ? shortDate : shortDateOtherYear).format(date);
}
