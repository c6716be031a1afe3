/**
 * A view's live data: one loop for every view that shows what the server answers and keeps
 * it fresh. Each load cancels the one before it (its late answer is never drawn), a 401
 * sends the user back to sign-in, and a live refresh redraws only when the answer changed,
 * keeping the focus where the user had it.
 *
 * The view supplies:
 * - `read(signal)`: the answer (usually `api(path, {signal})`);
 * - `render(answer, {quiet})`: draw it; `quiet` for a refresh or a check, not for a `show`;
 * - `failed(error, {quiet})`: any failure but a 401 or a cancelled load;
 * - `signedOut()`: the session has ended;
 * - optionally `loading()`: a `show` has started (for a loading indicator), and
 *   `fingerprint(answer)`: what counts as a change (the whole answer by default).
 */
import { keepingFocus } from "./dom.js";

export function liveLoader({
  read,
  render,
  failed,
  signedOut,
  loading = () => {},
  fingerprint = (answer) => JSON.stringify(answer),
}) {
  let sequence = 0;
  let inflight = null;
  let shown = null;
  let stopped = false;

  async function load({ quiet }) {
    if (stopped) return;
    const mine = ++sequence;
    inflight?.abort();
    const controller = new AbortController();
    inflight = controller;
    if (!quiet) loading();
    try {
      const answer = await read(controller.signal);
      if (mine !== sequence) return;
      const print = fingerprint(answer);
      if (quiet && print === shown) return;
      shown = print;
      keepingFocus(() => render(answer, { quiet }));
    } catch (error) {
      if (mine !== sequence || error.name === "AbortError") return;
      if (error.status === 401) signedOut();
      else failed(error, { quiet });
    } finally {
      if (mine === sequence) inflight = null;
    }
  }

  return {
    /** Load and draw whatever comes (the view's first load, or the user changed it). */
    show: () => load({ quiet: false }),
    /** Load now, cancelling a load in flight; redraw only if the answer changed. */
    check: () => load({ quiet: true }),
    /** The live refresh: a check, unless a load is already in flight. */
    refresh() {
      if (!inflight) load({ quiet: true });
    },
    /** Whether a load is in flight. */
    get busy() {
      return inflight !== null;
    },
    /** Cancel the load in flight and load nothing more (the view is gone, or has ended). */
    stop() {
      stopped = true;
      sequence += 1;
      inflight?.abort();
      inflight = null;
    },
  };
}
