/**
 * The version of the API this server speaks (semver): a new major changes or removes something a
 * client relies on, a new minor adds procedures or optional fields. The server reports it in `/health`
 * and in the `x-api-version` header of every answer; the sdk speaks the same version and warns when a
 * server's major differs from its own.
 */
export const API_VERSION = '1.0.0';

/** The response header that carries `API_VERSION`. */
export const API_VERSION_HEADER = 'x-api-version';
