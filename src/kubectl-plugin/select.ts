// Finding the objects a command is about: named ones in one namespace, or a list (a label selector,
// one namespace or all), sorted as kubectl sorts them. A 404 on the ocsp-operator.dev group itself
// means the CRDs are not installed, and the user is told so instead of "not found".
import { API_GROUP, API_VERSION } from '../api/group.js';
import { isNotFound } from '../kube/client.js';
import { SecretType, type KubeObject, type ResourceType, type Secret } from '../kube/types.js';
import type { Selection } from './args.js';
import { CrdsMissingError, NotFoundError } from './errors.js';
import type { Connection } from './kube.js';

/** Throws CrdsMissingError when the cluster does not serve API_GROUP/API_VERSION; else returns. */
export async function checkCrdsInstalled(conn: Connection): Promise<void> {
  try {
    await conn.client.request('GET', `/apis/${API_GROUP}/${API_VERSION}`);
    return;
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  let served: string[] = [];
  try {
    const g = await conn.client.request<{ versions?: Array<{ version: string }> }>('GET', `/apis/${API_GROUP}`);
    served = (g.versions ?? []).map((v) => v.version);
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  const where = `the cluster of context ${conn.context} (${conn.client.server})`;
  throw new CrdsMissingError(
    served.length
      ? `${where} serves ${API_GROUP} ${served.join(', ')}, not ${API_VERSION}, which this kubectl-ocsp speaks: install the CRDs of the same release as the plugin (kubectl apply --server-side -f crds/)`
      : `${where} does not serve the ${API_GROUP} API: the ocsp-operator CRDs are not installed (install the chart, or kubectl apply --server-side -f crds/)`,
  );
}

/** A 404 from the group's resource: the CRDs are missing (thrown), or it is a plain not-found (returned). */
async function explain404(conn: Connection, type: ResourceType, e: unknown): Promise<void> {
  if (!isNotFound(e)) throw e;
  if (type.group === API_GROUP) await checkCrdsInstalled(conn);
}

const key = (o: KubeObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

export interface Selected<T extends KubeObject> {
  objects: T[];
  /** Named objects that do not exist (the others are still shown, as kubectl does). */
  notFound: NotFoundError[];
}

export async function selectObjects<T extends KubeObject>(conn: Connection, type: ResourceType, sel: Selection): Promise<Selected<T>> {
  if (sel.names.length) {
    const objects: T[] = [];
    const notFound: NotFoundError[] = [];
    for (const name of sel.names) {
      try {
        objects.push(await conn.client.get<T>(type, conn.namespace, name));
      } catch (e) {
        await explain404(conn, type, e);
        notFound.push(new NotFoundError(`${type.kind} ${conn.namespace}/${name} not found (context ${conn.context})`));
      }
    }
    return { objects, notFound };
  }
  let items: T[];
  try {
    items = (
      await conn.client.list<T>(type, {
        ...(sel.allNamespaces ? {} : { namespace: conn.namespace }),
        ...(sel.selector !== undefined ? { labelSelector: sel.selector } : {}),
      })
    ).items;
  } catch (e) {
    await explain404(conn, type, e);
    throw e;
  }
  // Listing Secrets means the certificate Secrets among them.
  if (type === SecretType) items = items.filter((s) => (s as Secret).data?.['tls.crt'] !== undefined);
  return { objects: items.sort((a, b) => key(a).localeCompare(key(b))), notFound: [] };
}
