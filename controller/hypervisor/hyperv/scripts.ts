/**
 * The PowerShell script bodies, one per operation. They are constants: nothing from a request is
 * ever put into this text. Inputs come only from `$A` (the decoded argument object). Each body's
 * last expression is its result; `,@(...)` keeps a one-element list a list.
 *
 * Enums are sent twice, `Name = "$($x.Prop)"` and `NameValue = N $x.Prop`, so the decoder works with
 * 5.1 (numbers), 7 (numbers) and 7 with implicit remoting (strings). WMI filters only ever contain
 * a [guid] taken from Get-VM, never a string from `$A`.
 */

const vmHelpers = String.raw`
$ns = 'root\virtualization\v2'
function Get-OwnedVM([string]$id) {
  $vm = Get-VM -Id ([guid]$id) -ErrorAction SilentlyContinue
  if (-not $vm) { Fail 'NotFound' ('no VM with id ' + $id + ' on this host') }
  return $vm
}
function Get-SystemOf($vm) { Get-CimInstance -Namespace $ns -ClassName Msvm_ComputerSystem -Filter ("Name='" + ([guid]$vm.Id).ToString() + "'") }
function Wait-CimJob($out, [string]$what) {
  if ($out.ReturnValue -eq 4096) {
    $job = $out.Job
    $job = Get-CimInstance -InputObject $job
    while ($job.JobState -eq 3 -or $job.JobState -eq 4) { Start-Sleep -Milliseconds 250; $job = Get-CimInstance -InputObject $job }
    if ($job.JobState -ne 7) { throw [System.InvalidOperationException]::new($what + ' failed: ' + $job.ErrorDescription + ' (error code ' + $job.ErrorCode + ')') }
    return $job
  }
  if ($out.ReturnValue -ne 0) { throw [System.InvalidOperationException]::new($what + ' failed (error code ' + $out.ReturnValue + ')') }
  return $null
}
function Wait-NoMerge($vm, [int]$seconds) {
  $deadline = (Get-Date).AddSeconds($seconds)
  while ((Get-Date) -lt $deadline) {
    $cs = Get-SystemOf $vm
    if (@($cs.OperationalStatus) -notcontains 32772) { return }
    Start-Sleep -Milliseconds 500
  }
  Fail 'Busy' 'the checkpoint merge is still running'
}
`;

const host = String.raw`
$h = Get-VMHost
$os = Get-CimInstance -ClassName Win32_OperatingSystem
$cluster = $null
if (Get-Command Get-Cluster -ErrorAction SilentlyContinue) {
  try {
    $c = Get-Cluster
    $cluster = [ordered]@{ Name = [string]$c.Name; SharedVolumes = @(Get-ClusterSharedVolume | ForEach-Object { [string]$_.SharedVolumeInfo.FriendlyVolumeName }) }
  } catch { $cluster = $null }
}
[ordered]@{ ComputerName = $env:COMPUTERNAME; OsCaption = [string]$os.Caption; OsVersion = [string]$os.Version; BuildNumber = [int]$os.BuildNumber; LogicalProcessors = [int]$h.LogicalProcessorCount; MemoryBytes = [int64]$h.MemoryCapacity; Cluster = $cluster }
`;

const vms = String.raw`
$list = if ($A.vmId) { @(Get-VM -Id ([guid]$A.vmId) -ErrorAction SilentlyContinue) } else { @(Get-VM) }
# One pass over the cluster's VM resources instead of Get-ClusterGroup -VMId per VM, which scans
# every group each time: hundreds of VMs per host must stay a quick refresh.
$groups = @{}
if (@($list | Where-Object { $_.IsClustered }).Count -gt 0 -and (Get-Command Get-ClusterResource -ErrorAction SilentlyContinue)) {
  try {
    Get-ClusterResource | Where-Object { [string]$_.ResourceType -eq 'Virtual Machine' } | ForEach-Object {
      $groups[([string]($_ | Get-ClusterParameter -Name VmID).Value).ToLowerInvariant()] = $_.OwnerGroup
    }
  } catch { $groups = @{} }
}
,@($list | Where-Object { $_ } | ForEach-Object {
  $vm = $_
  $owner = $env:COMPUTERNAME; $groupState = $null; $clusterName = $null
  $g = $groups[([guid]$vm.Id).ToString()]
  if ($vm.IsClustered -and $g) { $owner = [string]$g.OwnerNode; $groupState = [string]$g.State; $clusterName = [string]$g.Cluster }
  $os = $null
  try {
    $kvp = Get-CimAssociatedInstance -InputObject (Get-SystemOf $vm) -ResultClassName Msvm_KvpExchangeComponent
    foreach ($item in @($kvp.GuestIntrinsicExchangeItems)) {
      $x = [xml]$item
      if ($x.SelectSingleNode("/INSTANCE/PROPERTY[@NAME='Name']/VALUE").InnerText -eq 'OSName') { $os = $x.SelectSingleNode("/INSTANCE/PROPERTY[@NAME='Data']/VALUE").InnerText }
    }
  } catch { }
  [ordered]@{
    Id = ([guid]$vm.Id).ToString(); Name = $vm.Name
    State = [string]$vm.State; StateValue = N $vm.State
    Generation = [int]$vm.Generation; Version = [string]$vm.Version
    Heartbeat = [string]$vm.Heartbeat; HeartbeatValue = N $vm.Heartbeat
    CheckpointType = [string]$vm.CheckpointType; CheckpointTypeValue = N $vm.CheckpointType
    SnapshotFileLocation = [string]$vm.SnapshotFileLocation; ConfigurationLocation = [string]$vm.ConfigurationLocation
    OperationalStatus = @(@($vm.OperationalStatus) | ForEach-Object { [string]$_ })
    OperationalStatusValue = @(@($vm.OperationalStatus) | ForEach-Object { N $_ })
    IsClustered = [bool]$vm.IsClustered; OwnerNode = $owner; ClusterGroupState = $groupState; ClusterName = $clusterName
    GuestOS = $os
    UserCheckpoints = @(Get-VMSnapshot -VM $vm | Where-Object { [string]$_.SnapshotType -ne 'Recovery' -and (N $_.SnapshotType) -ne 1 }).Count
    IntegrationServices = @(Get-VMIntegrationService -VM $vm | ForEach-Object {
      [ordered]@{ Id = [string]$_.Id; Name = [string]$_.Name; Enabled = [bool]$_.Enabled; PrimaryOperationalStatus = [string]$_.PrimaryOperationalStatus; PrimaryOperationalStatusValue = N $_.PrimaryOperationalStatus }
    })
    Disks = @(Get-VMHardDiskDrive -VM $vm | ForEach-Object {
      $d = $_; $vhd = $null
      if ($d.Path -and $null -eq $d.DiskNumber) { try { $vhd = Get-VHD -Path $d.Path } catch { $vhd = $null } }
      [ordered]@{
        ControllerType = [string]$d.ControllerType; ControllerTypeValue = N $d.ControllerType
        ControllerNumber = [int]$d.ControllerNumber; ControllerLocation = [int]$d.ControllerLocation
        Path = [string]$d.Path; DiskNumber = $d.DiskNumber; SupportPersistentReservations = [bool]$d.SupportPersistentReservations
        Readable = [bool]$vhd
        VhdFormat = if ($vhd) { [string]$vhd.VhdFormat } else { $null }; VhdFormatValue = if ($vhd) { N $vhd.VhdFormat } else { $null }
        Size = if ($vhd) { [int64]$vhd.Size } else { $null }
        DiskIdentifier = if ($vhd) { [string]$vhd.DiskIdentifier } else { $null }
      }
    })
  }
})
`;

/**
 * A backup snapshot. `method` Recovery: a WMI recovery snapshot (2016+, configuration version 8.0+;
 * ConsistencyLevel 1 fails rather than degrade). `method` Checkpoint: Checkpoint-VM with the VM's
 * checkpoint type set to ProductionOnly for the duration (or Standard for saved state), restored
 * afterwards. `save`: the VM is saved first and started again, the downtime measured here.
 */
const snapshot = String.raw`
$vm = Get-OwnedVM $A.vmId
$watch = $null
$resume = $false
if ($A.save -and ([string]$vm.State -eq 'Running' -or (N $vm.State) -eq 2)) {
  $watch = [System.Diagnostics.Stopwatch]::StartNew()
  Save-VM -VM $vm
  $resume = $true
}
$level = if ($A.consistency -eq 'Application') { 1 } else { 2 }
try {
  if ($A.method -eq 'Recovery') {
    $cs = Get-SystemOf $vm
    $svc = Get-CimInstance -Namespace $ns -ClassName Msvm_VirtualSystemSnapshotService
    $class = Get-CimClass -Namespace $ns -ClassName Msvm_VirtualSystemSnapshotSettingData
    $settings = New-CimInstance -CimClass $class -ClientOnly -Property @{ ConsistencyLevel = [byte]$level; IgnoreNonSnapshottableDisks = $true; GuestBackupType = [uint16]1 }
    $serializer = [Microsoft.Management.Infrastructure.Serialization.CimSerializer]::Create()
    $text = [System.Text.Encoding]::Unicode.GetString($serializer.Serialize($settings, [Microsoft.Management.Infrastructure.Serialization.InstanceSerializationOptions]::None))
    $out = Invoke-CimMethod -InputObject $svc -MethodName CreateSnapshot -Arguments @{ AffectedSystem = $cs; SnapshotSettings = $text; SnapshotType = [uint16]32768 }
    $job = Wait-CimJob $out 'Failed to create VM recovery checkpoint'
    $snap = if ($job) { Get-CimAssociatedInstance -InputObject $job -ResultClassName Msvm_VirtualSystemSettingData } else { $out.ResultingSnapshot }
    $snap = @($snap | Where-Object { $_.VirtualSystemType -eq 'Microsoft:Hyper-V:Snapshot:Recovery' })[0]
    if (-not $snap) { Fail 'SnapshotFailed' 'the recovery snapshot did not appear' }
    $disks = @(Get-CimAssociatedInstance -InputObject $snap -ResultClassName Msvm_StorageAllocationSettingData | Where-Object { $_.ResourceType -eq 31 } | ForEach-Object { [string]@($_.HostResource)[0] } | Where-Object { $_ -match '\.vhdx?$' })
    $id = [string]$snap.InstanceID
    $created = $snap.CreationTime
    $config = Join-Path ([string]$snap.ConfigurationDataRoot) ('Snapshots\' + [string]$snap.ConfigurationID + '.vmcx')
  } else {
    $previous = [string]$vm.CheckpointType
    if ($previous) { Set-VM -VM $vm -CheckpointType $(if ($level -eq 1) { 'ProductionOnly' } else { 'Standard' }) }
    try { $cp = Checkpoint-VM -VM $vm -SnapshotName ([string]$A.label) -Passthru } finally { if ($previous) { Set-VM -VM $vm -CheckpointType $previous } }
    $disks = @(Get-VMHardDiskDrive -VM $vm | Where-Object { $_.Path -match '\.avhdx?$' } | ForEach-Object { [string](Get-VHD -Path $_.Path).ParentPath })
    $id = ([guid]$cp.Id).ToString()
    $created = $cp.CreationTime
    $config = Join-Path ([string]$cp.Path) ('Snapshots\' + $id + '.vmcx')
  }
} finally {
  if ($resume) { Start-VM -VM $vm }
}
# The checkpoint's guest state (.vmgs) and runtime state (.vmrs) sit beside its .vmcx under the same name.
$state = @(@{ Kind = 'GuestState'; Ext = '.vmgs' }, @{ Kind = 'RuntimeState'; Ext = '.vmrs' } | ForEach-Object {
  $file = [System.IO.Path]::ChangeExtension($config, $_.Ext)
  if (Test-Path -LiteralPath $file) { [ordered]@{ Kind = $_.Kind; Path = $file } }
})
[ordered]@{ SnapshotId = $id; CreationTime = $created; ConsistencyLevel = $level; DowntimeMs = if ($watch) { [int64]$watch.ElapsedMilliseconds } else { 0 }; Disks = $disks; ConfigurationPath = $config; StateFiles = $state }
`;

/** Changed ranges of each frozen disk since an RCT id, looping while ProcessedByteLength falls short. */
const changes = String.raw`
$ims = Get-CimInstance -Namespace $ns -ClassName Msvm_ImageManagementService
,@(@($A.disks) | ForEach-Object {
  $d = $_
  $size = [uint64](Get-VHD -Path ([string]$d.path)).Size
  $offset = [uint64]0
  $offsets = New-Object System.Collections.Generic.List[uint64]
  $lengths = New-Object System.Collections.Generic.List[uint64]
  $code = 0
  while ($offset -lt $size) {
    $out = Invoke-CimMethod -InputObject $ims -MethodName GetVirtualDiskChanges -Arguments @{ Path = [string]$d.path; LimitId = [string]$d.rctId; ByteOffset = $offset; ByteLength = [uint64]($size - $offset) }
    if ($out.ReturnValue -ne 0) { $code = [int]$out.ReturnValue; break }
    foreach ($o in @($out.ChangedByteOffsets)) { $offsets.Add([uint64]$o) }
    foreach ($l in @($out.ChangedByteLengths)) { $lengths.Add([uint64]$l) }
    if ([uint64]$out.ProcessedByteLength -eq 0) { break }
    $offset += [uint64]$out.ProcessedByteLength
  }
  [ordered]@{ Path = [string]$d.path; ReturnValue = $code; ChangedByteOffsets = $offsets.ToArray(); ChangedByteLengths = $lengths.ToArray() }
})
`;

/** Ends a snapshot: converted to a reference point (recovery snapshots only), or destroyed; then waits out the merge. */
const release = String.raw`
$vm = Get-OwnedVM $A.vmId
$result = $null
if ([string]$A.snapshotId -like 'Microsoft:*') {
  $cs = Get-SystemOf $vm
  $snap = @(Get-CimAssociatedInstance -InputObject $cs -ResultClassName Msvm_VirtualSystemSettingData | Where-Object { $_.InstanceID -eq [string]$A.snapshotId })[0]
  if ($snap) {
    $svc = Get-CimInstance -Namespace $ns -ClassName Msvm_VirtualSystemSnapshotService
    if ($A.keep) {
      $out = Invoke-CimMethod -InputObject $svc -MethodName ConvertToReferencePoint -Arguments @{ AffectedSnapshot = $snap }
      $job = Wait-CimJob $out 'ConvertToReferencePoint'
      $ref = if ($job) { @(Get-CimAssociatedInstance -InputObject $job -ResultClassName Msvm_VirtualSystemReferencePoint)[0] } else { $out.ResultingReferencePoint }
      $result = [ordered]@{ InstanceID = [string]$ref.InstanceID; CreationTime = $ref.CreationTime; ResilientChangeTrackingIdentifiers = @($ref.ResilientChangeTrackingIdentifiers); VirtualDiskIdentifiers = @($ref.VirtualDiskIdentifiers) }
    } else {
      $null = Wait-CimJob (Invoke-CimMethod -InputObject $svc -MethodName DestroySnapshot -Arguments @{ AffectedSnapshot = $snap }) 'DestroySnapshot'
    }
  }
} else {
  $cp = Get-VMSnapshot -VM $vm | Where-Object { ([guid]$_.Id).ToString() -eq [string]$A.snapshotId }
  if ($cp) { Remove-VMSnapshot -VMSnapshot $cp }
}
Wait-NoMerge $vm ([int]$A.mergeSeconds)
$result
`;

const recoverySnapshots = String.raw`
,@(Get-VM | ForEach-Object {
  $vm = $_
  Get-VMSnapshot -VM $vm | Where-Object { [string]$_.SnapshotType -eq 'Recovery' -or (N $_.SnapshotType) -eq 1 } | ForEach-Object {
    $s = $_
    $sid = ([guid]$s.Id).ToString()
    $wmi = @(Get-CimAssociatedInstance -InputObject (Get-SystemOf $vm) -ResultClassName Msvm_VirtualSystemSettingData | Where-Object { [string]$_.ConfigurationID -eq $sid })[0]
    [ordered]@{ VMId = ([guid]$vm.Id).ToString(); VMName = $vm.Name; SnapshotId = if ($wmi) { [string]$wmi.InstanceID } else { $sid }; Name = [string]$s.Name; CreationTime = $s.CreationTime }
  }
})
`;

const destroyReferencePoint = String.raw`
$vm = Get-OwnedVM $A.vmId
$cs = Get-SystemOf $vm
$ref = @(Get-CimAssociatedInstance -InputObject $cs -ResultClassName Msvm_VirtualSystemReferencePoint | Where-Object { $_.InstanceID -eq [string]$A.referenceId })[0]
if ($ref) {
  $svc = Get-CimInstance -Namespace $ns -ClassName Msvm_VirtualSystemReferencePointService
  $null = Wait-CimJob (Invoke-CimMethod -InputObject $svc -MethodName DestroyReferencePoint -Arguments @{ AffectedReferencePoint = $ref }) 'DestroyReferencePoint'
}
$null
`;

/**
 * Import from a restored configuration (reference §2e): Compare-VM, point each disk at its restored
 * file, drop network connections to switches this host lacks (or, for a boot test, connect every
 * adapter to a private switch, which reaches no network), re-check, Import-VM. Same ID:
 * -Register in place. New ID: -Copy -GenerateNewId into the VM's folder (Import-VM allows a new ID
 * only with a copy), disks to its 'Virtual Hard Disks' subfolder.
 */
const importVm = String.raw`
$params = @{ Path = [string]$A.configurationPath }
if ($A.newId) {
  $params.Copy = $true; $params.GenerateNewId = $true
  $params.VirtualMachinePath = [string]$A.vmPath; $params.SnapshotFilePath = [string]$A.vmPath; $params.SmartPagingFilePath = [string]$A.vmPath
  $params.VhdDestinationPath = Join-Path ([string]$A.vmPath) 'Virtual Hard Disks'
} else { $params.Register = $true }
$report = Compare-VM @params
foreach ($drive in @(Get-VMHardDiskDrive -VM $report.VM)) {
  $slot = [string]$drive.ControllerType + ':' + [int]$drive.ControllerNumber + ':' + [int]$drive.ControllerLocation
  $match = @($A.disks | Where-Object { $_.slot -eq $slot })[0]
  if ($match) { Set-VMHardDiskDrive -VMHardDiskDrive $drive -Path ([string]$match.path) } else { Remove-VMHardDiskDrive -VMHardDiskDrive $drive }
}
$switches = @()
if ($A.isolatedSwitch) {
  $private = Get-VMSwitch -Name ([string]$A.isolatedSwitch) -ErrorAction SilentlyContinue
  if (-not $private) { $private = New-VMSwitch -Name ([string]$A.isolatedSwitch) -SwitchType Private }
  if ([string]$private.SwitchType -ne 'Private' -and (N $private.SwitchType) -ne 0) { Fail 'InvalidState' ('the switch ' + [string]$A.isolatedSwitch + ' exists and is ' + [string]$private.SwitchType + ', not Private: a test VM on it would reach the network; rename that switch or choose another name') }
  Get-VMNetworkAdapter -VM $report.VM | Connect-VMNetworkAdapter -SwitchName ([string]$A.isolatedSwitch)
} else {
  foreach ($issue in @($report.Incompatibilities | Where-Object { $_.MessageId -eq 33012 })) { $switches += [string]$issue.Source.SwitchName; $issue.Source | Disconnect-VMNetworkAdapter }
}
$report = Compare-VM -CompatibilityReport $report
$left = @($report.Incompatibilities)
if ($left.Count -gt 0) { Fail 'InvalidState' ('the configuration cannot be imported: ' + (($left | ForEach-Object { [string]$_.MessageId + ' ' + $_.Message }) -join '; ')) }
$vm = Import-VM -CompatibilityReport $report
if ($A.newName) { Rename-VM -VM $vm -NewName ([string]$A.newName) }
[ordered]@{ Id = ([guid]$vm.Id).ToString(); DisconnectedSwitches = @($switches) }
`;

const unregister = String.raw`
$vm = Get-OwnedVM $A.vmId
if ([string]$vm.State -ne 'Off' -and (N $vm.State) -ne 3) { Fail 'InvalidState' ('the VM is ' + [string]$vm.State + '; turn it off before removing it') }
Remove-VM -VM $vm -Force
$null
`;

const start = String.raw`
$vm = Get-OwnedVM $A.vmId
Start-VM -VM $vm
$null
`;

const stop = String.raw`
$vm = Get-OwnedVM $A.vmId
if ($A.force) { Stop-VM -VM $vm -TurnOff -Force } else { Stop-VM -VM $vm -Force }
$null
`;

const liveMigrate = String.raw`
$vm = Get-OwnedVM $A.vmId
if (-not $vm.IsClustered) { Fail 'InvalidState' 'the VM is not a cluster role; live migration needs a cluster' }
$null = Move-ClusterVirtualMachineRole -VMId $vm.Id -Node ([string]$A.node) -MigrationType Live
$null
`;

const moveStorage = String.raw`
$vm = Get-OwnedVM $A.vmId
Move-VMStorage -VM $vm -DestinationStoragePath ([string]$A.path)
$null
`;

export const scripts = {
  host,
  vms: vmHelpers + vms,
  snapshot: vmHelpers + snapshot,
  changes: vmHelpers + changes,
  release: vmHelpers + release,
  recoverySnapshots: vmHelpers + recoverySnapshots,
  destroyReferencePoint: vmHelpers + destroyReferencePoint,
  importVm,
  unregister: vmHelpers + unregister,
  start: vmHelpers + start,
  stop: vmHelpers + stop,
  liveMigrate: vmHelpers + liveMigrate,
  moveStorage: vmHelpers + moveStorage,
} as const;

export type Operation = keyof typeof scripts;
