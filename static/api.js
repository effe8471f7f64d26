// Every request to the site's own API: the session's CSRF token on changes, JSON in and out,
// and one way of turning a failure into words a person can act on.

const meta = document.querySelector('meta[name="csrf-token"]');
// The server compares it with the one it stored for the session (POST, PUT, PATCH, DELETE).
export const csrfToken = meta ? meta.content : null;

const SAFE_METHODS = ["GET", "HEAD", "OPTIONS"];

/** A failed request: its message is meant for people; status and code are for the page. */
export class ApiError extends Error {
  constructor(message, status = 0, code = null) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The words to show for a failed answer, from its parsed JSON body (null when it had none):
 * the server's `error.message`, written for people, or a fallback that names the status. */
export function errorTextOf(body, status) {
  return (body && body.error && body.error.message) || `The server answered HTTP ${status}.`;
}

async function bodyOf(response) {
  try {
    return await response.json();
  } catch {
    return null; // not JSON: a proxy's page, an empty body
  }
}

/** The words to show for a failed fetch Response. */
export async function errorText(response) {
  return errorTextOf(await bodyOf(response), response.status);
}

function headersFor(method, options) {
  const headers = new Headers(options.headers || {});
  if (csrfToken && !SAFE_METHODS.includes(method)) headers.set("X-CSRF-Token", csrfToken);
  if (options.json !== undefined) headers.set("Content-Type", "application/json");
  return headers;
}

/** fetch() for the site: `json` becomes the body; the Response comes back whatever its status. */
export function request(path, options = {}) {
  const { json, ...init } = options;
  const method = (init.method || "GET").toUpperCase();
  init.headers = headersFor(method, options);
  if (json !== undefined) init.body = JSON.stringify(json);
  return fetch(path, init);
}

/** The JSON of a successful answer (null for 204); anything else throws an ApiError in words. */
export async function api(path, options = {}) {
  let response;
  try {
    response = await request(path, options);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError("The server could not be reached: check the connection and try again.");
  }
  if (!response.ok) {
    const body = await bodyOf(response);
    const code = body && body.error ? body.error.code || null : null;
    throw new ApiError(errorTextOf(body, response.status), response.status, code);
  }
  return response.status === 204 ? null : response.json();
}
