/** Thrown for input we cannot use (bad PEM, malformed request, undecodable GET path). The message names the problem. */
export class OcspInputError extends Error {
  override readonly name = 'OcspInputError';
}
