/**
 * The console's JSON calls, on the teammate token. The token lives in this tab's
 * sessionStorage only (never in a URL, never in a cookie the portal could send), and goes
 * with each call as a Bearer header. A 401 forgets it: the console asks again.
 */
import { ApiError, fetchJson } from "../api.js";

const TOKEN_KEY = "console-teammate-token";

export function teammateToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function rememberToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Nothing was stored.
  }
}

/** `adminApi("/api/admin/tickets", {method, body, signal})`: the JSON answer, or ApiError. */
export async function adminApi(path, { method = "GET", body, signal, token } = {}) {
  const { response, data } = await fetchJson(path, {
    method,
    body,
    signal,
    headers: { Authorization: `Bearer ${token ?? teammateToken()}` },
    credentials: "omit",
  });
  if (response.status === 401) forgetToken();
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** `?a=1&b=2` from an object, leaving out empty values. */
export function queryString(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
