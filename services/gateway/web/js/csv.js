/**
 * CSV for spreadsheets. A cell that a spreadsheet would read as a formula (starting with
 * =, +, -, @, tab or carriage return, also after leading spaces) is prefixed with an
 * apostrophe so it stays text: ticket titles are written by anyone.
 */
const FORMULA_START = /^[\t\r]|^\s*[=+\-@\uFF1D\uFF0B\uFF0D\uFF20]/;

export function safeCell(value) {
  const text = value === null || value === undefined ? "" : String(value);
  const neutral = FORMULA_START.test(text) ? `'${text}` : text;
  return `"${neutral.replaceAll('"', '""')}"`;
}

/** Rows (arrays of values) to CSV text with CRLF line ends (RFC 4180). */
export function toCsv(rows) {
  return rows.map((row) => row.map(safeCell).join(",")).join("\r\n") + "\r\n";
}

/** Offer `text` as a download named `filename`; the byte-order mark makes Excel read UTF-8. */
export function download(filename, text) {
  const blob = new Blob(["\uFEFF", text], { type: "text/csv;charset=utf-8" });
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
