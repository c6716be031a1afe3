/**
 * The "New ticket" form's checks, the same as the server's (services/tickets/ticket_types.py
 * and the SUBMIT_TICKET schema), with the same words, so a problem reads the same whether
 * the page or the server found it. The server checks again; these only save a round trip.
 */

export const MAX_TITLE = 300;
export const MAX_DESCRIPTION = 20000;
export const MAX_VALUE = 1000;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
// One line: no control characters (tab allowed), as the server's one_line check.
const NOT_ONE_LINE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/;

function isDate(text) {
  if (!DATE.test(text)) return false;
  const [year, month, day] = text.split("-").map(Number);
  const date = new Date(Date.UTC(year, month - 1, day));
  return (
    date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day
  );
}

function missing(value) {
  return value === null || value === undefined || (typeof value === "string" && !value.trim());
}

/** What is wrong with a form field's answer, or null. */
export function answerProblem(field, value) {
  if (missing(value)) return field.required ? `${field.label} is required` : null;
  switch (field.type) {
    case "boolean":
      return typeof value === "boolean" ? null : "must be true or false";
    case "number":
      return typeof value === "number" && Number.isFinite(value) ? null : "must be a number";
    default:
      break;
  }
  if (typeof value !== "string") return "must be text";
  if (field.type === "select" && !field.options.includes(value)) {
    return `must be one of: ${field.options.join(", ")}`;
  }
  if (field.type === "date" && !isDate(value)) return "must be a date (YYYY-MM-DD)";
  if (value.length > MAX_VALUE) return `must be at most ${MAX_VALUE} characters`;
  if (NOT_ONE_LINE.test(value)) return "must be a single line without control characters";
  return null;
}

/**
 * The request body for `POST /api/portal/tickets` and the problems found, by the field
 * names the server uses (`title`, `attributes.<key>`, ...): `{body, problems}`.
 */
export function checkTicket(ticketType, { title, description, answers, companyId }) {
  const problems = {};
  if (!title.trim()) problems.title = "Title is required";
  else if (title.length > MAX_TITLE) problems.title = `must be at most ${MAX_TITLE} characters`;
  else if (NOT_ONE_LINE.test(title)) problems.title = "must be a single line";
  if (description.length > MAX_DESCRIPTION) {
    problems.description = `must be at most ${MAX_DESCRIPTION} characters`;
  }
  const attributes = {};
  for (const field of ticketType?.attributes ?? []) {
    const value = answers[field.key];
    const problem = answerProblem(field, value);
    if (problem) problems[`attributes.${field.key}`] = problem;
    else if (!missing(value)) attributes[field.key] = value;
  }
  if (!ticketType) problems.type = "Choose a ticket type";
  const body = { type: ticketType?.id ?? "", title, attributes };
  if (description) body.description = description;
  if (companyId) body.company_id = companyId;
  return { body, problems };
}
