// The one place that talks to the Worker: it attaches the READ_TOKEN bearer and turns the API's JSON errors
// ({"error", "message"}) into exceptions the views can tell apart.
const TOKEN_KEY = "bouncewatch.readToken";
// The write token lives for the tab only: closing it forgets who may mute alerts.
const ADMIN_KEY = "bouncewatch.adminToken";

/** The Worker has READ_TOKEN set and we sent no token, or the wrong one. */
export class Unauthorized extends Error {}

/** Any other non-2xx answer; `code` is the API's error code (or http_<status> when the body is not JSON). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const savedToken = () => localStorage.getItem(TOKEN_KEY);

export function saveToken(token) {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

/** GETs a same-origin API path and returns its JSON body. */
export async function getJson(path) {
  const token = savedToken();
  const response = await fetch(path, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    cache: "no-store",
  });
  const body = await response.json().catch(() => null);
  if (response.status === 401) throw new Unauthorized(body?.message ?? "a read token is required");
  if (!response.ok) {
    throw new ApiError(response.status, body?.error ?? `http_${response.status}`, body?.message ?? response.statusText);
  }
  return body;
}

export const savedAdminToken = () => sessionStorage.getItem(ADMIN_KEY);

export function saveAdminToken(token) {
  if (token) sessionStorage.setItem(ADMIN_KEY, token);
  else sessionStorage.removeItem(ADMIN_KEY);
}

/** A write (POST/DELETE) with ADMIN_TOKEN; returns the JSON body or throws ApiError (401, 403 included). */
export async function sendAdmin(method, path, body) {
  const headers = { authorization: `Bearer ${savedAdminToken() ?? ""}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, json?.error ?? `http_${response.status}`, json?.message ?? response.statusText);
  }
  return json;
}
