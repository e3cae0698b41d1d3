export {
  type Client,
  type ClientAuth,
  type ClientOptions,
  createClient,
  DEFAULT_MAX_BATCH_SIZE,
  DEFAULT_MAX_URL_LENGTH,
  type EventSourceConstructor,
  type FetchLike,
  type HeaderSource,
  type TokenSource,
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
  isValidationError,
  type ValidationDetails,
  validationDetails,
} from './errors';
export type { AppRouter, ConversationEvent, RouterInputs, RouterOutputs, SubscriptionData } from './types';
