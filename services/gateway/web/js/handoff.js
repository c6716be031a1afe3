/**
 * The help center hands the signed-in identity over in the URL fragment (never sent to a
 * server in a request line or a Referer): `#user_id=..&email=..&user_hash=..` or
 * `#token=<jwt>`. The page trades it for a session cookie and wipes it from the address bar.
 */

/** The session request body carried by a fragment, or null when it carries none. */
export function credentialsFromFragment(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const token = params.get("token");
  if (token) return { token };
  const userId = params.get("user_id");
  const userHash = params.get("user_hash");
  if (userId && userHash) {
    const credentials = { user_id: userId, user_hash: userHash };
    const email = params.get("email");
    if (email) credentials.email = email;
    return credentials;
  }
  return null;
}

/** Remove the fragment from the address bar without a new history entry. */
export function forgetFragment() {
  const { pathname, search } = window.location;
  window.history.replaceState(window.history.state, "", `${pathname}${search}`);
}
