// JSON calls to the portal's API with the session cookie and the CSRF header.

export class ApiError extends Error {
  constructor(status, error, retryAfter) {
    super(error.message || `request failed (${status})`);
    this.status = status;
    this.code = error.code || "error";
    this.field = error.field || null;
    this.details = error.details || null;
    this.retryAfter = retryAfter;
  }
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json", "X-CSRF-Token": csrfToken() };
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, { message: "The server cannot be reached. Check your connection and try again.", code: "offline" }, null);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = (data && data.error) || { message: `The server answered ${response.status}.` };
    const retry = Number(response.headers.get("Retry-After")) || null;
    throw new ApiError(response.status, error, retry);
  }
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body ?? {});
export const patch = (path, body) => api("PATCH", path, body ?? {});
export const put = (path, body) => api("PUT", path, body ?? {});
export const del = (path) => api("DELETE", path);
