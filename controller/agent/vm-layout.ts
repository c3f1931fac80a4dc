/**
 * What a whole-VM restore needs besides the disk data: the VM's configuration file, its state files
 * (guest state .vmgs, runtime state .vmrs) and where each disk was attached and stored. The backup job writes both as catalogs under the first disk's
 * manifest (encrypted with the repository's key, deleted with the manifest); the restore job reads
 * them back. Recovery points taken before the layout was recorded can still be restored as Disks.
 */
import { basename } from 'node:path';
import type { DiskSlot, Snapshot, StateFileKind, VmInfo } from '../hypervisor/types.js';
import type { Repository } from '../repository/repository.js';

/** Catalog name that holds the VM's configuration file as of the point. */
export const vmConfigurationCatalog = 'vm-configuration';
/** Catalog name that holds the `VmLayout` JSON. */
export const vmLayoutCatalog = 'vm-layout';
/** Catalog names of the state files beside the configuration (.vmgs, .vmrs), when the VM has them. */
export const vmStateCatalogs: Record<StateFileKind, string> = {
  GuestState: 'vm-guest-state',
  RuntimeState: 'vm-runtime-state',
};

export interface VmLayoutDisk extends DiskSlot {
  diskId: string;
  /** The live disk file on the host at backup time: where an in-place restore puts it back. */
  path: string;
  manifest: string;
}

export interface VmLayout {
  schema: 1;
  vmId: string;
  vmName: string;
  /** Folder holding the VM's configuration on its host at backup time. */
  configurationFolder: string;
  /** File name of the configuration (`<GUID>.vmcx` on Hyper-V, a JSON file on filehost). */
  configurationName: string;
  disks: VmLayoutDisk[];
}

export function layoutOf(vm: VmInfo, snapshot: Snapshot, manifests: Map<string, string>): VmLayout {
  return {
    schema: 1,
    vmId: vm.id,
    vmName: vm.name,
    configurationFolder: vm.configurationPath,
    configurationName: basename(snapshot.configurationPath.replaceAll('\\', '/')),
    disks: snapshot.disks.flatMap((d) => {
      const manifest = manifests.get(d.diskId);
      return manifest === undefined
        ? []
        : [
            {
              diskId: d.diskId,
              controllerType: d.controllerType,
              controllerNumber: d.controllerNumber,
              controllerLocation: d.controllerLocation,
              path: d.sourcePath,
              manifest,
            },
          ];
    }),
  };
}

export interface StoredVm {
  layout: VmLayout;
  configuration: Buffer;
  stateFiles: { kind: StateFileKind; data: Buffer }[];
}

/** Reads the configuration and layout back, or says why this point cannot be restored as a VM. */
export async function readStoredVm(
  repo: Repository,
  firstManifest: string,
  pointName: string,
): Promise<StoredVm | string> {
  const [configuration, layoutBytes] = await Promise.all([
    repo.getCatalog(firstManifest, vmConfigurationCatalog),
    repo.getCatalog(firstManifest, vmLayoutCatalog),
  ]);
  if (!configuration || !layoutBytes) {
    return `recovery point ${pointName} holds no VM configuration and disk layout (it predates whole-VM restores); restore it with type Disks and attach the disks to a new VM`;
  }
  const layout = JSON.parse(layoutBytes.toString('utf8')) as Partial<VmLayout>;
  if (layout.schema !== 1 || !Array.isArray(layout.disks)) {
    return `recovery point ${pointName} has a disk layout of an unknown version; restore it with type Disks`;
  }
  const kinds = Object.keys(vmStateCatalogs) as StateFileKind[];
  const states = await Promise.all(
    kinds.map((kind) => repo.getCatalog(firstManifest, vmStateCatalogs[kind])),
  );
  const stateFiles = kinds.flatMap((kind, i) => {
    const data = states[i];
    return data ? [{ kind, data }] : [];
  });
  return { layout: layout as VmLayout, configuration, stateFiles };
}
