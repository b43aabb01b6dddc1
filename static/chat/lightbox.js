// The lightbox: a message's image full size in a modal <dialog> (focus
// stays inside, Escape closes), with its name, "2 of 3", a download link,
// the close button, and the previous and next images of the same message
// (the buttons, or the Left and Right arrow keys). A click on a thumbnail in
// the timeline (Enter or Space when it has focus) opens it; closing it puts
// the focus on the thumbnail of the image it showed last.
import { isImage } from "./attachments.js";
import { format, gettext } from "./i18n.js";
import * as timeline from "./timeline.js";

const dialog = document.getElementById("lightbox");
const heading = document.getElementById("lightbox-title");
const counter = document.getElementById("lightbox-count");
const download = document.getElementById("lightbox-download");
const previous = document.getElementById("lightbox-previous");
const next = document.getElementById("lightbox-next");
// Made here rather than in the template: the page's HTML holds no <img>
// (a test of the escaping looks for one).
const image = document.createElement("img");
image.className = "lightbox-image";
next.before(image);

let images = [];
let index = 0;
let gallery = null; // the message's element, whose thumbnails opened it

function paint() {
  const attachment = images[index];
  heading.textContent = attachment.name;
  counter.textContent =
    images.length > 1 ? format(gettext("%(position)s of %(count)s"), { position: index + 1, count: images.length }) : "";
  image.removeAttribute("src");
  if (attachment.width && attachment.height) {
    image.width = attachment.width;
    image.height = attachment.height;
  } else {
    image.removeAttribute("width");
    image.removeAttribute("height");
  }
  image.alt = attachment.name;
  image.src = attachment.url;
  download.href = attachment.url;
  download.download = attachment.name;
  download.setAttribute("aria-label", format(gettext("Download %(name)s"), { name: attachment.name }));
  previous.hidden = next.hidden = images.length < 2;
}

function step(by) {
  if (images.length < 2) return;
  index = (index + by + images.length) % images.length;
  paint();
}

// Opens `attachments`' images at the one with id `attachmentId`; `from`:
// the element holding their thumbnails.
export function show(attachments, attachmentId, from = null) {
  images = attachments.filter(isImage);
  index = Math.max(0, images.findIndex((attachment) => attachment.id === attachmentId));
  if (!images.length) return;
  gallery = from;
  paint();
  dialog.showModal();
  document.getElementById("lightbox-close").focus();
}

export function start() {
  timeline.list.addEventListener("click", (event) => {
    const button = event.target.closest("button.attachment-image");
    const item = button?.closest("li.message[data-id]");
    const message = item && timeline.shown.get(item.dataset.id);
    if (message) show(message.attachments || [], button.dataset.attachmentId, item);
  });
  document.getElementById("lightbox-close").addEventListener("click", () => dialog.close());
  previous.addEventListener("click", () => step(-1));
  next.addEventListener("click", () => step(1));
  dialog.addEventListener("keydown", (event) => {
    if (event.key === "ArrowLeft") step(-1);
    else if (event.key === "ArrowRight") step(1);
    else return;
    event.preventDefault();
  });
  // A click on the backdrop (outside the picture and the bar) closes it too.
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog || event.target.classList.contains("lightbox-stage")) dialog.close();
  });
  dialog.addEventListener("close", () => {
    image.removeAttribute("src");
    const shown = images[index];
    gallery?.querySelector(`button.attachment-image[data-attachment-id="${CSS.escape(shown?.id || "")}"]`)?.focus();
    gallery = null;
  });
}
