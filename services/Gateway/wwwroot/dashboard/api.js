// Calls to the gateway's /api/* with the session cookie; control calls carry the session's anti-forgery token.
let antiForgeryToken = null;

export function setAntiForgeryToken(token) {
  antiForgeryToken = token;
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** The envelope's data (with message, count, total), or an ApiError carrying the envelope's error text. */
export async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && antiForgeryToken) headers['X-Crew-Anti-Forgery'] = antiForgeryToken;
  let response;
  try {
    response = await fetch(path, {
      method, headers, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, `The gateway did not answer (${e.message})`);
  }
  let envelope = null;
  try {
    envelope = await response.json();
  } catch {
    envelope = null;
  }
  if (!response.ok || !envelope || envelope.success === false) {
    throw new ApiError(response.status, envelope?.error ?? `HTTP ${response.status}`);
  }
  return envelope;
}

export const get = (path) => call('GET', path);
export const post = (path, body) => call('POST', path, body ?? {});
export const patch = (path, body) => call('PATCH', path, body);
