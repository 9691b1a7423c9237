import { NatsError } from "nats";

/**
 * JetStream API error codes (`err_code` of the API's error reply; nats-server's errors.json) that
 * the reader acts on. Matched by code, never by message text.
 */
export const JsApiError = {
  /** JSNoMessageFoundErr: nothing stored for the subject. */
  NO_MESSAGE_FOUND: 10037,
  /** JSNotEnabledForAccountErr */
  NOT_ENABLED_FOR_ACCOUNT: 10039,
  /** JSStreamNotFoundErr */
  STREAM_NOT_FOUND: 10059,
  /** JSNotEnabledErr */
  NOT_ENABLED: 10076,
} as const;

export function jsApiErrorCode(error: unknown): number | undefined {
  return error instanceof NatsError ? error.jsError()?.err_code : undefined;
}
