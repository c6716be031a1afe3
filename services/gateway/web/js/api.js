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

export async function api(path, { method = "GET", body, signal, headers: extra = {} } = {}) {
  const headers = { Accept: "application/json", ...extra };
  const position = lastPosition();
  if (position !== null) headers[POSITION_HEADER] = position;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    signal,
  });
  remember(response.headers.get(POSITION_HEADER));
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}
