/**
 * JSON over fetch, on the session cookie. Errors come back as {error: {code, message,
 * fields}}; they are thrown as ApiError so a view can tell "no access" from "signed out".
 *
 * Read-your-writes: a write answers Portal-Position (where the store recorded it); the
 * highest one seen in this tab is sent back with every request, so the next read shows the
 * user's own change whichever server answers it.
 */

const POSITION_HEADER = "Portal-Position";
const POSITION_KEY = "portal-position";

function lastPosition() {
  try {
    return sessionStorage.getItem(POSITION_KEY);
  } catch {
    return null;
  }
}

function remember(position) {
  if (!/^[0-9]{1,18}$/.test(position ?? "")) return;
  const known = lastPosition();
  if (known !== null && BigInt(known) >= BigInt(position)) return;
  try {
    sessionStorage.setItem(POSITION_KEY, position);
  } catch {
    // Storage refused (private mode): reads are then only as fresh as the read side.
  }
}

export class ApiError extends Error {
  constructor(status, body) {
    const error = body?.error ?? {};
    super(error.message || `request failed (${status})`);
    this.status = status;
    this.code = error.code ?? "";
    this.fields = error.fields ?? {};
  }
}

/**
 * One JSON call: `body` sent as JSON, the answer read as JSON (null when empty or not
 * JSON). The response too, for its status and headers. Shared by the portal and the console.
 */
export async function fetchJson(path, { method = "GET", body, signal, headers = {}, credentials }) {
  const response = await fetch(path, {
    method,
    headers: {
      Accept: "application/json",
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials,
    signal,
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  return { response, data };
}

export async function api(path, { method = "GET", body, signal, headers: extra = {} } = {}) {
  const headers = { ...extra };
  const position = lastPosition();
  if (position !== null) headers[POSITION_HEADER] = position;
  const { response, data } = await fetchJson(path, {
    method,
    body,
    signal,
    headers,
    credentials: "same-origin",
  });
  remember(response.headers.get(POSITION_HEADER));
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}
