/**
 * The one error type the UI sees for a failed request. It reads the backend's error shape
 * `{"error":{"code","message",...}}` and keeps per-field messages for forms (422).
 */
export type FieldErrors = Record<string, string>;

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fields: FieldErrors;

  constructor(status: number, code: string, message: string, fields: FieldErrors = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.fields = fields;
  }

  get isNetwork(): boolean {
    return this.status === 0;
  }
  get isForbidden(): boolean {
    return this.status === 403;
  }
  get isUnauthorized(): boolean {
    return this.status === 401;
  }
}

export const NOT_ALLOWED_MESSAGE = 'You are not allowed to do this. Ask an administrator for access.';
export const NETWORK_MESSAGE = 'Cannot reach the server. Check your connection and try again.';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

/**
 * Field messages may come as `field: "email"`, `fields: ["email"]`,
 * `fields: {email: "msg"}` or `details: [{field, message}]`: accept each, so a 422 always
 * lands next to the right input.
 */
function readFields(err: Record<string, unknown>, message: string): FieldErrors {
  const out: FieldErrors = {};
  const field = str(err.field);
  if (field) out[field] = message;
  for (const key of ['fields', 'details', 'errors']) {
    const v = err[key];
    if (Array.isArray(v)) {
      for (const item of v) {
        if (typeof item === 'string') out[item] = out[item] ?? message;
        else if (isRecord(item)) {
          const f = str(item.field) ?? str(item.name) ?? str(item.path);
          if (f) out[f] = str(item.message) ?? message;
        }
      }
    } else if (isRecord(v)) {
      for (const [f, m] of Object.entries(v)) {
        out[f] = str(m) ?? (Array.isArray(m) ? (m.map(String).join(' ') || message) : message);
      }
    }
  }
  return out;
}

/**
 * Our backend names the field at the start of a 422 message: "email must be a valid email
 * address", "password must be at least 8 characters", "currentPassword is not correct",
 * "app_role: no such role"; an unknown field reads "... unknown field `x` ...".
 */
export function fieldFromMessage(message: string): string | null {
  const lead = /^([A-Za-z_][A-Za-z0-9_]*)(?::\s| must | is | may )/.exec(message);
  if (lead?.[1]) return lead[1];
  const unknown = /unknown field `([^`]+)`/.exec(message);
  return unknown?.[1] ?? null;
}

function defaultMessage(status: number): string {
  if (status === 403) return NOT_ALLOWED_MESSAGE;
  if (status === 401) return 'Your session has ended. Please sign in again.';
  if (status === 404) return 'Not found. It may have been deleted.';
  if (status === 429) return 'Too many attempts. Wait a moment and try again.';
  if (status >= 500) return 'The server had a problem. Try again in a moment.';
  return `Request failed (${status}).`;
}

/** Build an ApiError from a response status and its (possibly non-JSON) body text. */
export function errorFromBody(status: number, bodyText: string): ApiError {
  let parsed: unknown;
  try {
    parsed = bodyText ? JSON.parse(bodyText) : undefined;
  } catch {
    parsed = undefined;
  }
  const err = isRecord(parsed) ? (isRecord(parsed.error) ? parsed.error : parsed) : undefined;
  const code = (err && str(err.code)) ?? `http_${status}`;
  // A 403 always reads as "not allowed" to the user; the backend's wording may be technical.
  const serverMessage = err ? (str(err.message) ?? str(parsed && isRecord(parsed) ? parsed.message : undefined)) : undefined;
  const message =
    status === 403 && code !== 'account_disabled' && !/disabled|verif/i.test(serverMessage ?? '')
      ? NOT_ALLOWED_MESSAGE
      : (serverMessage ?? (typeof parsed === 'string' ? parsed : undefined) ?? defaultMessage(status));
  const fields = err ? readFields(err, message) : {};
  if (status === 422 && Object.keys(fields).length === 0) {
    const named = fieldFromMessage(message);
    if (named) fields[named] = message;
  }
  return new ApiError(status, code, message, fields);
}

export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof DOMException && e.name === 'AbortError') return new ApiError(0, 'aborted', 'Cancelled.');
  return new ApiError(0, 'network', NETWORK_MESSAGE);
}
