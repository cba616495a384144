/**
 * Finding a time zone by name as OPA does (Go's time.LoadLocation and initLocal, go1.26
 * zoneinfo.go / zoneinfo_unix.go / zoneinfo_read.go), memoised in a bounded cache as OPA's tzCache
 * memoises it (OPA's is unbounded; a policy can name any string, so ours is capped).
 */
import { existsSync, readFileSync } from 'node:fs';
import { daysFromCivil, SECONDS_PER_DAY } from './go-time-date.js';
import { TzifLocation, UTC, type Location, type Zone } from './go-time-zone.js';
import { BoundedMemo } from './bounded-memo.js';

const PLATFORM_ZONE_SOURCES = ['/usr/share/zoneinfo/', '/usr/share/lib/zoneinfo/', '/usr/lib/locale/TZ/', '/etc/zoneinfo'];
const MAX_FILE_SIZE = 10 << 20;

/** A zone name Go refuses outright, or that no source has. */
export class UnknownZoneError extends Error {}

/** Zones by name (a miss costs file reads), bounded by count and total name length. */
const cache = new BoundedMemo<Location | UnknownZoneError>(256, 64 * 1024);

/** Go's LoadLocation(name), except "Local", which callers resolve with localLocation(). */
export function loadLocation(name: string): Location {
  if (name === '' || name === 'UTC') return UTC;
  if (name === 'Local') return localLocation();
  const found = cache.get(name, () => findLocation(name));
  if (found instanceof UnknownZoneError) throw found;
  return found;
}

/** How many names the cache holds (for tests of its bound). */
export function zoneCacheSize(): number {
  return cache.size;
}

function findLocation(name: string): Location | UnknownZoneError {
  if (name.includes('..') || name[0] === '/' || name[0] === '\\') {
    return new UnknownZoneError('time: invalid location name');
  }
  const zoneinfo = process.env.ZONEINFO;
  const sources = zoneinfo && !zoneinfo.endsWith('.zip') ? [zoneinfo, ...PLATFORM_ZONE_SOURCES] : PLATFORM_ZONE_SOURCES;
  const fromFile = loadFromSources(name, sources);
  if (fromFile) return fromFile;
  const fallback = sources.some((dir) => existsSync(dir)) ? undefined : intlLocation(name);
  return fallback ?? new UnknownZoneError(`unknown time zone ${name}`);
}

function loadFromSources(name: string, sources: readonly string[]): Location | undefined {
  for (const source of sources) {
    const path = source === '' ? name : source.endsWith('/') ? source + name : `${source}/${name}`;
    let data: Buffer;
    try {
      data = readFileSync(path);
    } catch {
      continue;
    }
    if (data.length > MAX_FILE_SIZE) continue;
    const location = TzifLocation.parse(name, data);
    if (location) return location;
  }
  return undefined;
}

let local: Location | undefined;

/** Go's time.Local for this process (read once, as Go does). */
export function localLocation(): Location {
  local ??= resolveLocalLocation(process.env.TZ);
  return local;
}

/** Go's initLocal: $TZ (a zone name, or a path after an optional ':'), else /etc/localtime, else UTC. */
export function resolveLocalLocation(tz: string | undefined): Location {
  let found: Location | undefined;
  if (tz === undefined) {
    found = loadFromSources('localtime', ['/etc']);
  } else {
    const name = tz.startsWith(':') ? tz.slice(1) : tz;
    if (name.startsWith('/')) found = loadFromSources(name, ['']);
    else if (name !== '' && name !== 'UTC') {
      const loaded = findLocation(name);
      if (!(loaded instanceof UnknownZoneError)) found = loaded;
    }
  }
  return found ?? UTC;
}

// --- fallback: Node's ICU time zone data ----------------------------------------------------------

/**
 * A location computed with Intl.DateTimeFormat, for machines without zoneinfo files. Offsets are
 * to the second and match tzdata's since 1970; abbreviations are ICU's where it has an alphabetic
 * one, else numeric.
 */
export function intlLocation(name: string): Location | undefined {
  if (/^[+-]/.test(name)) return undefined; // ICU takes offsets as zone names; Go does not
  let wall: Intl.DateTimeFormat;
  let short: Intl.DateTimeFormat;
  try {
    wall = new Intl.DateTimeFormat('en-US', {
      timeZone: name, hourCycle: 'h23', era: 'short', year: 'numeric', month: 'numeric', day: 'numeric',
      hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    short = new Intl.DateTimeFormat('en-US', { timeZone: name, timeZoneName: 'short' });
  } catch {
    return undefined;
  }
  // ICU matches names case-insensitively; zoneinfo file names are case-sensitive. (ICU also maps
  // aliases to canonical names, so an alias's case cannot be checked.)
  const resolved = wall.resolvedOptions().timeZone;
  if (resolved !== name && resolved.toLowerCase() === name.toLowerCase()) return undefined;
  const lookup = (sec: number): Zone => {
    const ms = Math.min(Math.max(sec, -62_135_596_800), 8_640_000_000_000) * 1000; // year 1 .. JS Date's end
    const parts: Record<string, string> = {};
    for (const part of wall.formatToParts(ms)) parts[part.type] = part.value;
    const year = parts.era === 'BC' ? 1 - Number(parts.year) : Number(parts.year);
    const wallSec = daysFromCivil(year, Number(parts.month), Number(parts.day)) * SECONDS_PER_DAY
      + Number(parts.hour) * 3600 + Number(parts.minute) * 60 + Number(parts.second);
    const offset = wallSec - Math.floor(ms / 1000);
    const abbr = short.formatToParts(ms).find((p) => p.type === 'timeZoneName')?.value ?? '';
    return { name: /^[A-Z][A-Za-z]{2,4}$/.test(abbr) ? abbr : numericAbbreviation(offset), offset, isDST: false };
  };
  return { name, lookup, lookupName: () => undefined };
}

/** tzdata's numeric abbreviation for an offset: "+05", "+0530", "-0330". */
function numericAbbreviation(offset: number): string {
  const abs = Math.abs(offset);
  const hh = String(Math.floor(abs / 3600)).padStart(2, '0');
  const mm = Math.floor((abs % 3600) / 60);
  return `${offset < 0 ? '-' : '+'}${hh}${mm === 0 ? '' : String(mm).padStart(2, '0')}`;
}
