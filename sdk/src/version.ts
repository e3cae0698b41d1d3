import { API_VERSION } from '../../server/contracts/version';

export { API_VERSION, API_VERSION_HEADER } from '../../server/contracts/version';

/** Major and minor of a semver string such as `1.4.2`, or null when it is not one. */
function parse(version: string): { major: number; minor: number } | null {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/.exec(version.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : null;
}

/**
 * True when a client speaking API `client` (this package's `API_VERSION` by default) can talk to a server
 * reporting `server`: the same major version, and for 0.x versions the same minor too (semver's rule for
 * versions before 1.0). A version that is not semver is not compatible.
 */
export function isCompatibleApiVersion(server: string, client: string = API_VERSION): boolean {
  const s = parse(server);
  const c = parse(client);
  if (!s || !c || s.major !== c.major) return false;
  return s.major > 0 || s.minor === c.minor;
}
