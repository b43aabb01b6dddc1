// A message's attachments (the server's upload shapes: id, name, size,
// contentType, width, height, url, thumbnailUrl) as the page shows them:
// images as thumbnails laid out at their final size before they load (so
// the list does not jump), each a button that opens the lightbox
// (lightbox.js); other files as a card that downloads. Also the sizes in
// words and a message's attachments in one line (the list, notifications).
import { format, gettext, locale, ngettext } from "./i18n.js";

// The box a thumbnail fits in, in CSS pixels (the server's are at most 400).
const THUMBNAIL_BOX = { one: 280, several: 160 };
const SVG = "http://www.w3.org/2000/svg";
const UNITS = ["byte", "kilobyte", "megabyte", "gigabyte"];

export function isImage(attachment) {
  return Boolean(attachment.thumbnailUrl);
}

// 1536 -> "1.5 kB" in the page's language (powers of 1024, as file managers count).
export function humanSize(bytes) {
  let value = Number(bytes) || 0;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return new Intl.NumberFormat(locale, {
    style: "unit",
    unit: UNITS[unit],
    unitDisplay: unit ? "short" : "long",
    maximumFractionDigits: unit && value < 10 ? 1 : 0,
  }).format(value);
}

// "photo.png", or "photo.png and 2 more files": a message without text in one line.
export function attachmentsSummary(attachments) {
  if (!attachments?.length) return "";
  const [first, ...rest] = attachments;
  if (!rest.length) return first.name;
  return format(
    ngettext("%(name)s and %(count)s more file", "%(name)s and %(count)s more files", rest.length),
    { name: first.name, count: rest.length },
  );
}

// The text a message shows in one line: its text, else its files.
export function messageSummary(message) {
  return message.text || attachmentsSummary(message.attachments);
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// width x height scaled down to fit a square of `box` pixels.
function fitted(attachment, box) {
  const width = attachment.width || box;
  const height = attachment.height || box;
  const scale = Math.min(1, box / width, box / height);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

export function thumbnail(attachment, box) {
  const image = element("img", "attachment-thumbnail");
  const size = fitted(attachment, box);
  image.width = size.width;
  image.height = size.height;
  image.alt = attachment.name;
  image.loading = "lazy";
  image.decoding = "async";
  image.src = attachment.thumbnailUrl;
  return image;
}

// A sheet of paper with the file's extension on it.
export function fileIcon(name) {
  const icon = element("span", "file-icon");
  icon.setAttribute("aria-hidden", "true");
  const svg = svgIcon(28, "M6 2h8l6 6v12a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zm7 1.5V9h5.5L13 3.5z");
  const dot = name.lastIndexOf(".");
  const extension = dot > 0 ? name.slice(dot + 1, dot + 5).toUpperCase() : "";
  icon.append(svg, element("span", "file-extension", extension));
  return icon;
}

function fileCard(attachment) {
  const card = element("a", "attachment-file");
  card.href = attachment.url;
  card.download = attachment.name;
  const body = element("span", "attachment-file-body");
  body.append(element("span", "attachment-name", attachment.name), element("span", "attachment-size", humanSize(attachment.size)));
  const action = element("span", "attachment-download");
  action.append(downloadIcon());
  card.append(fileIcon(attachment.name), body, action);
  card.setAttribute(
    "aria-label",
    format(gettext("Download %(name)s (%(size)s)"), { name: attachment.name, size: humanSize(attachment.size) }),
  );
  return card;
}

/** A square 24-unit SVG icon of one path, `size` pixels wide, hidden from assistive technology. */
function svgIcon(size, pathData) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", String(size));
  svg.setAttribute("height", String(size));
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("fill", "currentColor");
  path.setAttribute("d", pathData);
  svg.append(path);
  return svg;
}

export function downloadIcon() {
  return svgIcon(20, "M11 3h2v10.2l3.6-3.6 1.4 1.4-6 6-6-6 1.4-1.4 3.6 3.6zM5 19h14v2H5z");
}

// The attachments of `message` under its text. With `interactive` off (a
// message still in the outbox) the thumbnails open nothing.
export function attachmentsElement(attachments, { interactive = true } = {}) {
  const box = element("div", "attachments");
  const images = attachments.filter(isImage);
  if (images.length) {
    const gallery = element("div", "attachment-images");
    const side = images.length === 1 ? THUMBNAIL_BOX.one : THUMBNAIL_BOX.several;
    for (const [index, attachment] of images.entries()) {
      const picture = thumbnail(attachment, side);
      if (!interactive) {
        gallery.append(picture);
        continue;
      }
      const button = element("button", "attachment-image");
      button.type = "button";
      button.dataset.attachmentId = attachment.id;
      button.dataset.index = String(index);
      button.append(picture);
      gallery.append(button);
    }
    box.append(gallery);
  }
  for (const attachment of attachments) if (!isImage(attachment)) box.append(fileCard(attachment));
  return box;
}
