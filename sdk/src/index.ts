export {
  batchTransport,
  type Client,
  type ClientAuth,
  type ClientOptions,
  createClient,
  createDefaultLinks,
  DEFAULT_MAX_BATCH_SIZE,
  DEFAULT_MAX_URL_LENGTH,
  type EventSourceConstructor,
  type FetchLike,
  type HeaderSource,
  type RateLimitRetryOptions,
  rateLimitRetryLink,
  singleTransport,
  streamTransport,
  type TokenSource,
  type Transport,
  type TransportOptions,
  type VersionMismatch,
} from './client';
export * from './contracts';
export {
  type ApiError,
  type ApiErrorCode,
  errorCode,
  errorStatus,
  isApiError,
  isAuthError,
  isConflict,
  isNotFound,
  isRateLimited,
  isValidationError,
  retryAfterMs,
  type ValidationDetails,
  validationDetails,
} from './errors';
export type { AppRouter, ConversationEvent, RouterInputs, RouterOutputs, SubscriptionData } from './types';
export { API_VERSION, API_VERSION_HEADER, isCompatibleApiVersion } from './version';
