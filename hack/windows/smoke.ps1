<#
.SYNOPSIS
  Read-only self-check of a Hyper-V host for the Shadowkeep host agent.

.DESCRIPTION
  Runs every query the agent's `hyperv` backend depends on, without changing anything (no
  checkpoint, no Set-*, no Start/Stop), and prints one line per check:
    PASS  what works
    WARN  what limits backups (a VM that can only be backed up offline, a stale checkpoint)
    FAIL  what stops the agent from working on this host
  Exit code 1 when any check fails. Run it in an elevated Windows PowerShell 5.1 on each node, the
  way the agent runs (HostProcess as NT AUTHORITY\SYSTEM); -Json prints the results as JSON.

.EXAMPLE
  powershell.exe -NoProfile -ExecutionPolicy Bypass -File .\smoke.ps1
  powershell.exe -NoProfile -ExecutionPolicy Bypass -File .\smoke.ps1 -VMName 'sql*' -Json
#>
[CmdletBinding()]
param(
  # Only check VMs whose name matches this wildcard.
  [string]$VMName = '*',
  [switch]$Json
)

$ErrorActionPreference = 'Stop'
[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false
$results = New-Object System.Collections.Generic.List[object]

function Report([string]$status, [string]$check, [string]$detail) {
  $results.Add([pscustomobject]@{ Status = $status; Check = $check; Detail = $detail })
  if (-not $Json) { Write-Output ('{0,-5} {1}: {2}' -f $status, $check, $detail) }
}

# Runs one check; an exception becomes a FAIL line instead of ending the script.
function Check([string]$name, [scriptblock]$body) {
  try { & $body } catch { Report 'FAIL' $name $_.Exception.Message }
}

# Integration services are matched by the Id suffix, never by (localized) name.
$backupId = '5CED1297-4598-4915-A5FC-AD21BB4D02A4'
$heartbeatId = '84EAAE65-2F2E-45F5-9BB5-0E857DC8EB47'
$ns = 'root\virtualization\v2'

Check 'PowerShell' {
  $edition = $PSVersionTable.PSEdition
  if ($edition -eq 'Desktop') { Report 'PASS' 'PowerShell' ("Windows PowerShell " + $PSVersionTable.PSVersion) }
  else { Report 'WARN' 'PowerShell' ("PowerShell " + $PSVersionTable.PSVersion + ": the agent uses powershell.exe (5.1); under 7 Hyper-V may load through implicit remoting") }
}

Check 'Identity' {
  $id = [Security.Principal.WindowsIdentity]::GetCurrent()
  $admin = (New-Object Security.Principal.WindowsPrincipal $id).IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)
  if (-not $admin) { Report 'FAIL' 'Identity' ($id.Name + ' is not an administrator; the agent runs as NT AUTHORITY\SYSTEM') }
  elseif ($id.IsSystem) { Report 'PASS' 'Identity' 'NT AUTHORITY\SYSTEM' }
  else { Report 'PASS' 'Identity' ($id.Name + ' (administrator; the agent itself runs as SYSTEM)') }
}

Check 'Hyper-V module' {
  $cmd = Get-Command Get-VM -ErrorAction SilentlyContinue
  if (-not $cmd) { throw 'the Hyper-V PowerShell module is not installed (Install-WindowsFeature Hyper-V-PowerShell)' }
  $module = Get-Module -Name $cmd.ModuleName
  if ($module -and $module.ModuleType -eq 'Script' -and $module.PrivateData.ImplicitRemoting) { Report 'WARN' 'Hyper-V module' 'loaded through implicit remoting: enums arrive as strings' }
  else { Report 'PASS' 'Hyper-V module' ('{0} {1}' -f $cmd.ModuleName, $cmd.Version) }
}

$rct = $false
Check 'Host' {
  $h = Get-VMHost
  $os = Get-CimInstance -ClassName Win32_OperatingSystem
  $script:rct = [int]$os.BuildNumber -ge 14393
  Report 'PASS' 'Host' ('{0}, {1} logical processors, {2:N0} GiB' -f $os.Caption, $h.LogicalProcessorCount, ($h.MemoryCapacity / 1GB))
  if ($script:rct) { Report 'PASS' 'Change tracking' 'recovery snapshots and RCT available (build 14393 or later)' }
  else { Report 'WARN' 'Change tracking' 'Windows Server 2012 R2: no recovery snapshots or RCT; backups compare checksums' }
}

Check 'WMI' {
  foreach ($class in @('Msvm_VirtualSystemSnapshotService', 'Msvm_ImageManagementService', 'Msvm_VirtualSystemManagementService')) {
    $null = Get-CimInstance -Namespace $ns -ClassName $class
  }
  if ($script:rct) { $null = Get-CimInstance -Namespace $ns -ClassName Msvm_VirtualSystemReferencePointService }
  Report 'PASS' 'WMI' ($ns + ' answers (snapshot, image management' + $(if ($script:rct) { ', reference point' } else { '' }) + ' services)')
}

$csv = @()
Check 'Cluster' {
  if (-not (Get-Command Get-Cluster -ErrorAction SilentlyContinue)) { Report 'PASS' 'Cluster' 'standalone host (no failover clustering module)'; return }
  $cluster = Get-Cluster -ErrorAction SilentlyContinue
  if (-not $cluster) { Report 'PASS' 'Cluster' 'standalone host'; return }
  $script:csv = @(Get-ClusterSharedVolume | ForEach-Object { [string]$_.SharedVolumeInfo.FriendlyVolumeName })
  Report 'PASS' 'Cluster' ('{0}, level {1}, CSVs: {2}' -f $cluster.Name, $cluster.ClusterFunctionalLevel, ($script:csv -join ', '))
}

Check 'Encoding' {
  $probe = 'Zürich 日本'
  $back = [Text.Encoding]::UTF8.GetString([Text.Encoding]::UTF8.GetBytes($probe))
  if ($back -ne $probe) { throw 'UTF-8 round trip failed' }
  Report 'PASS' 'Encoding' 'UTF-8 output'
}

Check 'VMs' {
  $vms = @(Get-VM -Name $VMName)
  Report 'PASS' 'VMs' ('{0} VM(s) registered on this node' -f $vms.Count)
  foreach ($vm in $vms) {
    $name = 'VM ' + $vm.Name
    Check $name {
      $notes = New-Object System.Collections.Generic.List[string]
      if ([string]$vm.State -ne 'Running') { $notes.Add('not running (offline backup only)') }
      $ics = @(Get-VMIntegrationService -VM $vm)
      $backup = $ics | Where-Object { ([string]$_.Id).ToUpper().EndsWith($backupId) }
      $heartbeat = $ics | Where-Object { ([string]$_.Id).ToUpper().EndsWith($heartbeatId) }
      if (-not $backup) { $notes.Add('no Backup integration service') }
      elseif (-not $backup.Enabled) { $notes.Add('Backup integration service disabled') }
      elseif ([string]$vm.State -eq 'Running' -and [int]$backup.PrimaryOperationalStatus -ne 2) { $notes.Add('Backup integration service status ' + [string]$backup.PrimaryOperationalStatus) }
      if ($heartbeat -and -not $heartbeat.Enabled) { $notes.Add('Heartbeat disabled (restores cannot be boot-checked)') }
      if ([double]([string]$vm.Version) -lt 8) { $notes.Add('configuration version ' + $vm.Version + ' has no RCT') }
      $snapRoot = [IO.Path]::GetPathRoot([string]$vm.SnapshotFileLocation)
      foreach ($drive in @(Get-VMHardDiskDrive -VM $vm)) {
        $where = '{0} {1}:{2}' -f $drive.ControllerType, $drive.ControllerNumber, $drive.ControllerLocation
        if ($null -ne $drive.DiskNumber) { $notes.Add('pass-through disk at ' + $where + ' is not covered'); continue }
        if ($drive.SupportPersistentReservations) { $notes.Add('shared disk at ' + $where + ' is not covered') }
        try { $null = Get-VHD -Path $drive.Path } catch { $notes.Add('cannot open ' + $drive.Path + ': ' + $_.Exception.Message) }
        $onCsv = $script:csv | Where-Object { ([string]$drive.Path).StartsWith($_ + '\', [StringComparison]::OrdinalIgnoreCase) }
        $diskRoot = if ($onCsv) { @($onCsv)[0] } else { [IO.Path]::GetPathRoot([string]$drive.Path) }
        $snapOn = $script:csv | Where-Object { ([string]$vm.SnapshotFileLocation).StartsWith($_ + '\', [StringComparison]::OrdinalIgnoreCase) }
        $snapVolume = if ($snapOn) { @($snapOn)[0] } else { $snapRoot }
        if ($diskRoot -ne $snapVolume) { $notes.Add('snapshot location is not on the volume of ' + $drive.Path) }
      }
      $stale = @(Get-VMSnapshot -VM $vm -SnapshotType Recovery -ErrorAction SilentlyContinue)
      if ($stale.Count -gt 0) { $notes.Add(('{0} recovery checkpoint(s) left behind' -f $stale.Count)) }
      if (@($vm.OperationalStatus | ForEach-Object { [string]$_ }) -contains 'MergingDisks') { $notes.Add('disk merge in progress') }
      if ($notes.Count -eq 0) { Report 'PASS' $name 'online backup possible' } else { Report 'WARN' $name ($notes -join '; ') }
    }
  }
}

if ($Json) { ConvertTo-Json -InputObject @($results) -Depth 3 }
if (@($results | Where-Object { $_.Status -eq 'FAIL' }).Count -gt 0) { exit 1 }
exit 0
