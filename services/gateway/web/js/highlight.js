/**
 * The search preview arrives as HTML: the ticket text escaped by the server with each
 * matched term wrapped in <mark>. It is the only HTML the page accepts, and it is not
 * handed to an HTML parser: the <mark> tags become elements, character references are
 * decoded, and everything else stays text. A server bug could at worst show markup as text.
 */
const MARK_TAG = /<(\/?)mark>/gi;
const CHARACTER_REFERENCE = /&(?:#(\d{1,7})|#x([0-9a-f]{1,6})|(amp|lt|gt|quot|apos|nbsp));/gi;
const NAMED = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };

export function highlightedFragment(html) {
  const fragment = document.createDocumentFragment();
  let target = fragment;
  let from = 0;
  for (const tag of html.matchAll(MARK_TAG)) {
    appendText(target, html.slice(from, tag.index));
    const closing = tag[1] === "/";
    if (!closing && target === fragment) {
      target = fragment.appendChild(document.createElement("mark"));
    } else if (closing) {
      target = fragment;
    }
    from = tag.index + tag[0].length;
  }
  appendText(target, html.slice(from));
  return fragment;
}

/** The preview's plain text (for the CSV export). */
export function highlightedText(html) {
  return highlightedFragment(html).textContent;
}

function appendText(parent, escaped) {
  if (escaped) parent.append(document.createTextNode(decodeReferences(escaped)));
}

function decodeReferences(text) {
  return text.replace(CHARACTER_REFERENCE, (whole, decimal, hex, name) => {
    if (name) return NAMED[name.toLowerCase()];
    const code = decimal ? Number(decimal) : Number.parseInt(hex, 16);
    return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}
