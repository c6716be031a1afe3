/**
 * JSON over fetch, on the session cookie. Errors come back as {error: {code, message,
 * fields}}; they are thrown as ApiError so a view can tell "no access" from "signed out".
 */

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
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    signal,
  });
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
