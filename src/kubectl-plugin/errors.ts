// The plugin's own errors: both end in exit status 2 with the message on stderr.

/** Wrong arguments, unreadable input files, objects that do not parse. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The named object does not exist. */
export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

/** The cluster does not serve the ocsp-operator.dev API: the CRDs are not installed. */
export class CrdsMissingError extends Error {
  override name = 'CrdsMissingError';
}
