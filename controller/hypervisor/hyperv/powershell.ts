/**
 * Running a PowerShell script the safe way (reference §3): the script is fixed text, sent with
 * `-EncodedCommand` (base64 UTF-16LE, so no quoting layer exists); its arguments travel as base64
 * JSON in an environment variable and are read with ConvertFrom-Json, so no VM name or path is ever
 * parsed as code. Output is one JSON envelope, `{"ok":true,"result":...}` or
 * `{"ok":false,"error":{...}}`; a process that outlives its timeout is killed and reported.
 */
import { execa } from 'execa';
import { mkdir, writeFile } from 'node:fs/promises';
import { HypervisorError } from '../types.js';
import { isObject, malformed, type Json, type JsonObject } from './decode.js';
import { classifyFailure } from './failures.js';

/** The environment variable that carries a script's arguments. */
export const argumentsVariable = 'SHADOWKEEP_ARGS';

export interface PowerShellInvocation {
  /** Stable name of the script (`vms`, `snapshot`, ...): how recorded outputs are looked up in tests. */
  operation: string;
  script: string;
  environment: Record<string, string>;
  timeoutMs: number;
}

export interface PowerShellOutput {
  stdout: string;
  stderr: string;
  exitCode: number | undefined;
  timedOut: boolean;
}

export type PowerShellRunner = (invocation: PowerShellInvocation) => Promise<PowerShellOutput>;

export function encodeCommand(script: string): string {
  return Buffer.from(script, 'utf16le').toString('base64');
}

/**
 * Runs scripts with Windows PowerShell 5.1 by default (its Hyper-V module is native; PowerShell 7
 * may load it through implicit remoting, where enums arrive as strings).
 */
export function execaRunner(executable = 'powershell.exe'): PowerShellRunner {
  return async (invocation) => {
    const result = await execa(
      executable,
      [
        '-NoLogo',
        '-NoProfile',
        '-NonInteractive',
        '-ExecutionPolicy',
        'Bypass',
        '-EncodedCommand',
        encodeCommand(invocation.script),
      ],
      {
        env: invocation.environment,
        timeout: invocation.timeoutMs,
        forceKillAfterDelay: 5_000,
        reject: false,
        stdin: 'ignore',
        windowsHide: true,
      },
    );
    return {
      stdout: result.stdout,
      stderr: result.stderr,
      exitCode: result.exitCode,
      timedOut: result.timedOut,
    };
  };
}

/**
 * Wraps a runner so each output is also written to `<folder>/<operation>.out` (and `.err`): how
 * the recordings under test/fixtures/powershell are refreshed from a real host.
 */
export function recordingRunner(inner: PowerShellRunner, folder: string): PowerShellRunner {
  return async (invocation) => {
    const output = await inner(invocation);
    await mkdir(folder, { recursive: true });
    await writeFile(`${folder}/${invocation.operation}.out`, output.stdout);
    if (output.stderr !== '') {
      await writeFile(`${folder}/${invocation.operation}.err`, output.stderr);
    }
    return output;
  };
}

/**
 * The frame around every script body: UTF-8 output (5.1 would use the OEM code page and mangle
 * non-ASCII names), stop on every error, arguments decoded into `$A`, helpers `N` (enum as number,
 * or $null when it arrived as a string) and `Fail` (a failure with one of our codes).
 */
const prelude = String.raw`$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false
function N($v) { if ($null -eq $v) { return $null }; try { return [int64]$v } catch { return $null } }
function Fail([string]$code, [string]$message) { throw [System.InvalidOperationException]::new("shadowkeep:" + $code + ":" + $message) }
function Emit($envelope) { [Console]::Out.Write((ConvertTo-Json -InputObject $envelope -Depth 10 -Compress)) }
try {
  $A = [System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String($env:SHADOWKEEP_ARGS)) | ConvertFrom-Json
  $result = & {
`;

const epilogue = String.raw`
  }
  Emit ([ordered]@{ ok = $true; result = $result })
} catch {
  $e = $_.Exception
  Emit ([ordered]@{ ok = $false; error = [ordered]@{ type = $e.GetType().FullName; message = $e.Message; hresult = $e.HResult; errorId = [string]$_.FullyQualifiedErrorId; category = [string]$_.CategoryInfo.Category } })
  exit 1
}
`;

export function wrapScript(body: string): string {
  return `${prelude}${body}${epilogue}`;
}

/**
 * Windows limits one environment variable to 32,767 characters, name and `=` included; longer
 * arguments would fail to start the process with a confusing error, so they are refused first.
 */
export const MAX_ARGUMENTS_LENGTH = 32_767 - argumentsVariable.length - 1;

export async function invokePowerShell(
  runner: PowerShellRunner,
  operation: string,
  body: string,
  args: Json,
  timeoutMs: number,
): Promise<Json> {
  const encoded = Buffer.from(JSON.stringify(args), 'utf8').toString('base64');
  if (encoded.length > MAX_ARGUMENTS_LENGTH) {
    throw new HypervisorError(
      'InvalidState',
      `the arguments of PowerShell (${operation}) are ${encoded.length} characters once encoded, more than Windows passes to a process (${MAX_ARGUMENTS_LENGTH}); use shorter paths or names`,
    );
  }
  const output = await runner({
    operation,
    script: wrapScript(body),
    environment: { [argumentsVariable]: encoded },
    timeoutMs,
  });
  if (output.timedOut) {
    throw new HypervisorError(
      'Timeout',
      `PowerShell (${operation}) did not finish within ${Math.round(timeoutMs / 1000)} s and was killed`,
      true,
    );
  }
  const envelope = parseEnvelope(output.stdout);
  if (!envelope) {
    const detail =
      output.stderr.trim() || output.stdout.trim() || `exit code ${output.exitCode ?? 'unknown'}`;
    throw new HypervisorError(
      'HostError',
      `PowerShell (${operation}) produced no result: ${detail.slice(0, 500)}`,
    );
  }
  if (envelope.ok === true) {
    return envelope.result ?? null;
  }
  if (!isObject(envelope.error)) {
    throw malformed(operation, envelope);
  }
  throw classifyFailure(operation, envelope.error);
}

/** The envelope is the last thing a script writes; anything before it (a stray host write) is ignored. */
function parseEnvelope(stdout: string): JsonObject | undefined {
  const text = stdout.replace(/^\uFEFF/, '');
  const start = text.lastIndexOf('{"ok":');
  if (start < 0) {
    return undefined;
  }
  try {
    const parsed = JSON.parse(text.slice(start)) as Json;
    return isObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}
