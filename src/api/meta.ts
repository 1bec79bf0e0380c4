// The parts of ObjectMeta the operator reads. Loose: everything else the apiserver returns
// (managedFields, ownerReferences, …) is kept as is, so an object parsed here can be written back.

import { z } from 'zod';

export const ObjectMetaSchema = z.looseObject({
  name: z.string().min(1),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.int().optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  finalizers: z.array(z.string()).optional(),
});
export type ParsedObjectMeta = z.infer<typeof ObjectMetaSchema>;

/** The DNS-1123 subdomain rule Kubernetes applies to Secret and ConfigMap names. */
export const DNS_SUBDOMAIN_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
/** The DNS-1123 label rule Kubernetes applies to namespace names. */
export const DNS_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
/** Keys of a Secret's or ConfigMap's data. */
export const DATA_KEY_PATTERN = '^[-._a-zA-Z0-9]+$';
/** An absolute path without whitespace: a module inside an image, a mount point. */
export const ABSOLUTE_PATH_PATTERN = '^/[^\\s]*$';
/** The resource.Quantity syntax Kubernetes itself uses for sizes ("1Gi", "500M", "250m"). */
export const QUANTITY_PATTERN =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

export function secretName() {
  return z.string().min(1).max(253).regex(new RegExp(DNS_SUBDOMAIN_PATTERN));
}

export function dnsLabel() {
  return z.string().min(1).max(63).regex(new RegExp(DNS_LABEL_PATTERN));
}

export function dataKey() {
  return z.string().min(1).max(253).regex(new RegExp(DATA_KEY_PATTERN));
}
