// Files for the next message: the composer's attach button (a file input,
// several files at once), files or images pasted into the composer, and
// files dropped on the conversation (a drop target shows while dragging).
// Each file uploads at once (POST /api/conversations/{id}/attachments, an
// XMLHttpRequest for its progress) and shows as a chip above the composer:
// name, size, progress, the thumbnail once uploaded, Remove, and a clear
// error with Retry. Each conversation keeps its own uploaded files until they
// are sent, also across a reload (outbox.js); composer.js sends them.
import { showToast } from "./actions.js";
import { ApiError, csrfToken } from "./api.js";
import { fileIcon, humanSize, isImage, thumbnail } from "./attachments.js";
import { format, gettext, ngettext } from "./i18n.js";

// At most this many files in one message (the server's CHAT_ATTACHMENTS_PER_MESSAGE).
const PER_MESSAGE = 10;
const CHIP_THUMBNAIL_PX = 44;

const chipList = document.getElementById("attachment-chips");
const attachButton = document.getElementById("attach-button");
const fileInput = document.getElementById("attach-input");
const dropTarget = document.getElementById("drop-target");
const pane = document.getElementById("chat");
const status = document.getElementById("upload-status");

const byConversation = new Map(); // conversation id -> [upload]
let currentId = null;
let saved = null; // outbox.js createAttachmentDrafts
let onChange = () => {};
let serial = 0;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// The uploads of `conversationId`: those of this page, or those a previous
// page uploaded and did not send.
function uploadsOf(conversationId) {
  if (!byConversation.has(conversationId)) {
    const kept = saved.get(conversationId).map((attachment) => ({
      key: ++serial,
      conversationId,
      name: attachment.name,
      size: attachment.size,
      state: "done",
      attachment,
    }));
    byConversation.set(conversationId, kept);
  }
  return byConversation.get(conversationId);
}

function persist(conversationId) {
  const done = uploadsOf(conversationId).filter((upload) => upload.state === "done");
  saved.set(conversationId, done.map((upload) => upload.attachment));
}

function failureText(error) {
  if (!error) return gettext("Upload failed: no connection.");
  if (error.status === 413) {
    const limit = Number(error.details?.maxBytes);
    return limit
      ? format(gettext("Too large: files can be up to %(limit)s."), { limit: humanSize(limit) })
      : gettext("Too large for the server.");
  }
  if (error.status === 429 && error.retryAfter) {
    const seconds = error.retryAfter;
    return format(
      ngettext("Too many uploads: retry in %(seconds)s second.", "Too many uploads: retry in %(seconds)s seconds.", seconds),
      { seconds },
    );
  }
  return format(gettext("Upload failed: %(reason)s"), { reason: error.message });
}

function chipFor(upload) {
  const chip = element("li", "attachment-chip");
  const preview = element("span", "chip-preview");
  const body = element("span", "chip-body");
  const name = element("span", "chip-name", upload.name);
  name.title = upload.name;
  const detail = element("span", "chip-detail", humanSize(upload.size));
  const progress = document.createElement("progress");
  progress.className = "chip-progress";
  progress.setAttribute("aria-label", format(gettext("Uploading %(name)s"), { name: upload.name }));
  const error = element("span", "chip-error");
  error.setAttribute("role", "alert");
  body.append(name, detail, progress, error);
  const retry = element("button", "link-button chip-retry", gettext("Retry"));
  retry.type = "button";
  retry.setAttribute("aria-label", format(gettext("Retry uploading %(name)s"), { name: upload.name }));
  retry.addEventListener("click", () => transfer(upload));
  const remove = element("button", "chip-remove");
  remove.type = "button";
  remove.setAttribute("aria-label", format(gettext("Remove %(name)s"), { name: upload.name }));
  remove.title = gettext("Remove");
  const cross = element("span", "", "×");
  cross.setAttribute("aria-hidden", "true");
  remove.append(cross);
  remove.addEventListener("click", () => discard(upload));
  chip.append(preview, body, retry, remove);
  upload.parts = { chip, preview, detail, progress, error, retry, remove };
  return chip;
}

function paintProgress(upload) {
  const { detail, progress } = upload.parts;
  progress.max = upload.size || 1;
  progress.value = upload.loaded || 0;
  detail.textContent =
    upload.state === "uploading"
      ? format(gettext("%(done)s of %(total)s"), { done: humanSize(upload.loaded || 0), total: humanSize(upload.size) })
      : humanSize(upload.size);
}

function paint(upload) {
  if (!upload.parts) chipFor(upload);
  const { chip, preview, progress, error, retry } = upload.parts;
  chip.dataset.state = upload.state;
  progress.hidden = upload.state !== "uploading";
  paintProgress(upload);
  error.textContent = upload.state === "failed" ? upload.error : "";
  retry.hidden = upload.state !== "failed" || !upload.retryable;
  const image = upload.state === "done" && isImage(upload.attachment);
  if (preview.dataset.image !== String(image)) {
    preview.dataset.image = String(image);
    preview.replaceChildren(image ? thumbnail(upload.attachment, CHIP_THUMBNAIL_PX) : fileIcon(upload.name));
  }
  return upload.parts.chip;
}

function paintList() {
  const uploads = currentId === null ? [] : uploadsOf(currentId);
  chipList.replaceChildren(...uploads.map(paint));
  chipList.hidden = !uploads.length;
  onChange();
}

function changed(upload) {
  if (upload.conversationId === currentId) {
    paint(upload);
    onChange();
  }
}

function announce(text) {
  status.textContent = text;
}

function finished(upload, attachment) {
  upload.state = "done";
  upload.attachment = attachment;
  upload.request = null;
  upload.file = null;
  persist(upload.conversationId);
  changed(upload);
  announce(format(gettext("%(name)s uploaded"), { name: upload.name }));
}

function failed(upload, error) {
  upload.state = "failed";
  upload.request = null;
  upload.error = failureText(error);
  upload.retryable = error?.status !== 413;
  changed(upload);
}

// Sends the file (again, for a Retry).
function transfer(upload) {
  const request = new XMLHttpRequest();
  upload.request = request;
  upload.state = "uploading";
  upload.loaded = 0;
  changed(upload);
  request.open("POST", `/api/conversations/${encodeURIComponent(upload.conversationId)}/attachments`);
  request.setRequestHeader("Accept", "application/json");
  request.setRequestHeader("X-CSRFToken", csrfToken());
  request.upload.addEventListener("progress", (event) => {
    upload.loaded = event.loaded;
    if (upload.parts) paintProgress(upload);
  });
  request.addEventListener("load", () => {
    let body = null;
    try {
      body = JSON.parse(request.responseText);
    } catch {
      body = null;
    }
    if (request.status >= 200 && request.status < 300 && body?.id) finished(upload, body);
    else failed(upload, new ApiError(request.status, body, Number(request.getResponseHeader("Retry-After")) || null));
  });
  request.addEventListener("error", () => failed(upload, null));
  const form = new FormData();
  form.append("file", upload.file, upload.name);
  request.send(form);
}

function discard(upload) {
  upload.request?.abort();
  const uploads = uploadsOf(upload.conversationId);
  const index = uploads.indexOf(upload);
  if (index >= 0) uploads.splice(index, 1);
  persist(upload.conversationId);
  if (upload.conversationId === currentId) {
    const next = uploads[index] || uploads[index - 1];
    paintList();
    (next?.parts.remove || document.getElementById("composer-text")).focus();
  }
}

// Uploads `files` into the open conversation.
export function add(files) {
  if (currentId === null || attachButton.disabled || !files.length) return;
  const uploads = uploadsOf(currentId);
  const room = PER_MESSAGE - uploads.length;
  if (files.length > room) {
    showToast(format(ngettext("At most %(count)s file in one message.", "At most %(count)s files in one message.", PER_MESSAGE), { count: PER_MESSAGE }));
  }
  for (const file of [...files].slice(0, Math.max(room, 0))) {
    const upload = {
      key: ++serial,
      conversationId: currentId,
      file,
      name: file.name || gettext("Pasted file"),
      size: file.size,
      state: "uploading",
      loaded: 0,
    };
    uploads.push(upload);
    chipList.append(paint(upload));
    transfer(upload);
  }
  chipList.hidden = !uploads.length;
  onChange();
}

// The composer now writes in `conversationId`: its files come back.
export function switchTo(conversationId) {
  currentId = conversationId;
  paintList();
}

// Whether a file of the open conversation is still uploading (Send waits).
export function busy() {
  return currentId !== null && uploadsOf(currentId).some((upload) => upload.state === "uploading");
}

// The uploaded files of the open conversation (upload shapes), in order.
export function ready() {
  if (currentId === null) return [];
  return uploadsOf(currentId)
    .filter((upload) => upload.state === "done")
    .map((upload) => upload.attachment);
}

// The uploaded files went with a message: their chips go (failed ones stay).
export function sent() {
  if (currentId === null) return;
  const uploads = uploadsOf(currentId);
  byConversation.set(
    currentId,
    uploads.filter((upload) => upload.state !== "done"),
  );
  persist(currentId);
  paintList();
}

function carriesFiles(event) {
  return [...(event.dataTransfer?.types || [])].includes("Files");
}

function watchDrops() {
  let depth = 0;
  const hide = () => {
    depth = 0;
    dropTarget.hidden = true;
  };
  pane.addEventListener("dragenter", (event) => {
    if (!carriesFiles(event) || attachButton.disabled) return;
    event.preventDefault();
    depth += 1;
    dropTarget.hidden = false;
  });
  pane.addEventListener("dragover", (event) => {
    if (!carriesFiles(event) || attachButton.disabled) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  pane.addEventListener("dragleave", (event) => {
    if (!carriesFiles(event)) return;
    depth = Math.max(0, depth - 1);
    if (!depth) dropTarget.hidden = true;
  });
  pane.addEventListener("drop", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    hide();
    add(event.dataTransfer.files);
  });
  // A file dropped anywhere else must not replace the page with itself.
  for (const type of ["dragover", "drop"]) {
    window.addEventListener(type, (event) => {
      if (!carriesFiles(event) || event.defaultPrevented) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "none";
      if (type === "drop") hide();
    });
  }
}

export function start(options) {
  saved = options.drafts;
  onChange = options.onChange;
  attachButton.addEventListener("click", () => fileInput.click());
  fileInput.addEventListener("change", () => {
    add(fileInput.files);
    fileInput.value = "";
  });
  options.input.addEventListener("paste", (event) => {
    const files = event.clipboardData?.files;
    if (!files?.length) return;
    event.preventDefault();
    add(files);
  });
  watchDrops();
}
