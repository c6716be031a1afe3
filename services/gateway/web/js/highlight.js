/**
 * The search preview arrives as HTML: the ticket text escaped by the server with each
 * matched term wrapped in <mark>. It is the only HTML the page accepts, and even so it is
 * parsed in an inert document and rebuilt keeping nothing but text and <mark>, so a server
 * bug could at worst show markup as text.
 */
export function highlightedFragment(html) {
  const parsed = new DOMParser().parseFromString(`<body>${html}</body>`, "text/html");
  const fragment = document.createDocumentFragment();
  copyTextAndMarks(parsed.body, fragment);
  return fragment;
}

function copyTextAndMarks(source, target) {
  for (const node of source.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) {
      target.append(document.createTextNode(node.data));
    } else if (node.nodeType === Node.ELEMENT_NODE && node.localName === "mark") {
      const mark = document.createElement("mark");
      copyTextAndMarks(node, mark);
      target.append(mark);
    } else if (node.nodeType === Node.ELEMENT_NODE) {
      target.append(document.createTextNode(node.textContent));
    }
  }
}

/** The preview's plain text (for the CSV export). */
export function highlightedText(html) {
  return new DOMParser().parseFromString(`<body>${html}</body>`, "text/html").body.textContent;
}
