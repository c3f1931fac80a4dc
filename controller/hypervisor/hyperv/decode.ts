/**
 * Reading PowerShell's JSON as both Windows PowerShell 5.1 and PowerShell 7 print it (reference §3):
 * enums as numbers or names (names when Hyper-V is loaded through implicit remoting), dates as
 * `\/Date(ms)\/` or ISO 8601, one item as an object instead of an array, `$null` as nothing, and
 * 5.1's `{"value":[...],"Count":n}` wrapper. Every field is checked; nothing is trusted by a cast.
 */
import { HypervisorError } from '../types.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = Record<string, Json>;

export function malformed(what: string, value: unknown): HypervisorError {
  return new HypervisorError(
    'HostError',
    `unexpected PowerShell output for ${what}: ${(JSON.stringify(value) as string | undefined)?.slice(0, 200) ?? 'nothing'}`,
  );
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whatever PowerShell made of a collection, as an array. */
export function asArray(value: Json | undefined): Json[] {
  if (value === undefined || value === null) {
    return [];
  }
  if (Array.isArray(value)) {
    return value;
  }
  if (isObject(value) && Array.isArray(value.value) && typeof value.Count === 'number') {
    return value.value;
  }
  return [value];
}

export function field(object: JsonObject, key: string): Json | undefined {
  return object[key];
}

export function str(object: JsonObject, key: string, what: string): string {
  const value = object[key];
  if (typeof value !== 'string') {
    throw malformed(`${what}.${key}`, value);
  }
  return value;
}

export function optStr(object: JsonObject, key: string): string | undefined {
  const value = object[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export function num(object: JsonObject, key: string, what: string): number {
  const value = object[key];
  if (typeof value === 'number') {
    return value;
  }
  if (typeof value === 'string' && /^\d+$/.test(value)) {
    return Number(value);
  }
  throw malformed(`${what}.${key}`, value);
}

/** The strings of a list, or a malformed-output error naming the first thing that is not one. */
export function strings(value: Json | undefined, what: string): string[] {
  return asArray(value).map((item) => {
    if (typeof item !== 'string') {
      throw malformed(what, item);
    }
    return item;
  });
}

export function optNum(object: JsonObject, key: string): number | undefined {
  const value = object[key];
  return typeof value === 'number' ? value : undefined;
}

export function bool(object: JsonObject, key: string): boolean {
  return object[key] === true;
}

/**
 * An enum sent as `<Key>` (the name, `"$($x.Key)"`) and `<Key>Value` (the number or null). Names
 * win: numbers above FastSaving differ between Windows versions (reference §3).
 */
export function enumName<T extends string>(
  object: JsonObject,
  key: string,
  byNumber: Readonly<Record<number, T>>,
  names: readonly T[],
  fallback: T,
): T {
  const name = object[key];
  if (typeof name === 'string' && (names as readonly string[]).includes(name)) {
    return name as T;
  }
  const value = typeof name === 'number' ? name : object[`${key}Value`];
  return typeof value === 'number' ? (byNumber[value] ?? fallback) : fallback;
}

/** `\/Date(1700000000000)\/` (5.1) or an ISO 8601 string (7). */
export function date(value: Json | undefined, what: string): Date {
  if (typeof value === 'string') {
    const legacy = /^\/Date\((-?\d+)(?:[+-]\d{4})?\)\/$/.exec(value);
    const parsed = legacy?.[1] ? new Date(Number(legacy[1])) : new Date(value);
    if (!Number.isNaN(parsed.getTime())) {
      return parsed;
    }
  }
  throw malformed(what, value);
}
