// Distinguished names as text, in the form X509Certificate.subject has, for messages and for
// ValidatedResponse.signer.subject.
import 'reflect-metadata';
import { Name as X509Name } from '@peculiar/x509';
import { toHex } from './der.js';

/** The DER of a Name as @peculiar/x509 prints it; a hex prefix when it cannot. */
export function nameString(der: Uint8Array): string {
  try {
    return new X509Name(der).toString();
  } catch {
    return `name ${toHex(der).slice(0, 40)}`;
  }
}
