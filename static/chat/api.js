// JSON over the REST API with the page's session: the CSRF token for
// writes, and the error envelope ({"error": {code, message, details}})
// turned into an ApiError.
import { gettext } from "./i18n.js";

export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content || "";
}

export class ApiError extends Error {
  constructor(status, envelope, retryAfter) {
    super(envelope?.error?.message || `${gettext("Request failed")} (HTTP ${status})`);
    this.status = status;
    this.code = envelope?.error?.code || "http_error";
    this.details = envelope?.error?.details || {};
    this.retryAfter = retryAfter;
  }
}

// -> {data, response}; throws ApiError for an error answer, TypeError when offline.
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  if (response.status !== 204) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const retryAfter = Number(response.headers.get("Retry-After")) || null;
    throw new ApiError(response.status, data, retryAfter);
  }
  return { data, response };
}

// Whether an RFC 8288 Link header has the relation `rel` ("prev", "next").
export function hasLink(response, rel) {
  return linkTarget(response, rel) !== null;
}

// The URL of the Link header's relation `rel`, or null.
export function linkTarget(response, rel) {
  for (const [, url, rels] of (response.headers.get("Link") || "").matchAll(/<([^>]*)>\s*;\s*rel="([^"]*)"/g)) {
    if (rels.split(/\s+/).includes(rel)) return url;
  }
  return null;
}
