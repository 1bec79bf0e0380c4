// Loads the CRD files from crds/ for the local tests (and for crd.k8s.test.ts, which installs them).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { KIND_POOL, KIND_STAPLE } from '../../src/api/index.js';
import type { JSONSchemaProps } from './openapi-validate.js';

export type ApiKind = typeof KIND_STAPLE | typeof KIND_POOL;

export const CRD_FILES: Record<ApiKind, string> = {
  [KIND_STAPLE]: fileURLToPath(new URL('../../crds/ocsp-operator.dev_ocspstaples.yaml', import.meta.url)),
  [KIND_POOL]: fileURLToPath(new URL('../../crds/ocsp-operator.dev_ocspresponderpools.yaml', import.meta.url)),
};

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  priority?: number;
  description?: string;
}

/** The parts of a CustomResourceDefinition these tests read. */
export interface Crd {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames?: string[]; categories?: string[] };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources?: { status?: object };
      additionalPrinterColumns?: PrinterColumn[];
      schema: { openAPIV3Schema: JSONSchemaProps };
    }[];
  };
}

export function loadCrd(kind: ApiKind): Crd {
  return parse(readFileSync(CRD_FILES[kind], 'utf8')) as Crd;
}

export function crdSchema(kind: ApiKind): JSONSchemaProps {
  const v = loadCrd(kind).spec.versions[0];
  if (!v) throw new Error(`${kind} CRD has no version`);
  return v.schema.openAPIV3Schema;
}
