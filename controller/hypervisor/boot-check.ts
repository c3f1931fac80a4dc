import { HypervisorError, type BootCheckResult, type VmInfo } from './types.js';

/**
 * Waits for the guest's heartbeat: the evidence that a restored VM booted. Shared by both backends,
 * which differ only in how they read the VM.
 */
export async function awaitHeartbeat(
  getVm: (vmId: string) => Promise<VmInfo | undefined>,
  vmId: string,
  timeoutMs: number,
  pollMs: number,
): Promise<BootCheckResult> {
  const started = Date.now();
  for (;;) {
    const vm = await getVm(vmId);
    if (!vm) {
      throw new HypervisorError('NotFound', `VM ${vmId} is not on this host`);
    }
    if (vm.state !== 'Running') {
      throw new HypervisorError('InvalidState', `VM ${vm.name} is ${vm.state}; start it before a boot check`);
    }
    const elapsedMs = Date.now() - started;
    const booted = vm.heartbeat.startsWith('Ok');
    if (booted || elapsedMs >= timeoutMs) {
      return { booted, heartbeat: vm.heartbeat, elapsedMs };
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** The adjustment both backends report for an import onto an isolated switch. */
export function isolatedNetworkNote(switchName: string): string {
  return `network adapters connected to the private switch ${switchName} only`;
}
