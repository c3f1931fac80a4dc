import { annotations } from './labels.js';
import type { ObjectMeta } from '../kube/objects.js';

/** The HyperVVirtualMachine object name for a VM: its Hyper-V ID in lower case, stable across moves. */
export const hyperVVirtualMachineName = (vmId: string): string => vmId.toLowerCase();

/** Namespaces the platform team allowed to protect a VM (annotation shadowkeep.io/allowed-namespaces). */
export function allowedNamespacesOf(metadata: Pick<ObjectMeta, 'annotations'>): string[] {
  return (metadata.annotations?.[annotations.allowedNamespaces] ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
}

/** The guest-level tool that protects a VM already, if the annotation names one. */
export function guestProtectedBy(metadata: Pick<ObjectMeta, 'annotations'>): string | undefined {
  const tool = metadata.annotations?.[annotations.guestProtectedBy]?.trim();
  return tool === '' ? undefined : tool;
}
