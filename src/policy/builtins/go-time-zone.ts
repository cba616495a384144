/**
 * Time zones as Go's time package (go1.26, zoneinfo.go, zoneinfo_read.go, zoneinfo_unix.go) finds
 * and reads them, so `[ns, "America/New_York"]` means in gatehouse what it means in OPA:
 * - a name is looked up as a file in $ZONEINFO, then /usr/share/zoneinfo/, /usr/share/lib/zoneinfo/,
 *   /usr/lib/locale/TZ/, /etc/zoneinfo (the same files, so the same offsets and abbreviations);
 *   names are case-sensitive, and ones with ".." or a leading "/" are refused;
 * - "" and "UTC" are UTC; "Local" is the process's zone ($TZ, else /etc/localtime, else UTC);
 * - times after a zone's last transition follow the TZif footer's POSIX TZ rule (tzset).
 * Where the machine has no zoneinfo files (Go would use the tzdata embedded in OPA), Node's ICU data
 * stands in: offsets match tzdata's since 1970 (before, ICU merges some zones into others, e.g.
 * Africa/Kampala into Nairobi), abbreviations are ICU's en-US short names or tzdata-style numeric
 * ones ("+0530"), which often differ from tzdata's (e.g. "IST", "CET").
 * TZif format: RFC 8536.
 */
import { TzifReader } from './go-time-tzif.js';
import { tzset } from './go-time-tzrule.js';

/** A zone period: abbreviation, seconds east of UTC, daylight saving or not. */
export interface Zone {
  name: string;
  offset: number;
  isDST: boolean;
}

export interface Location {
  readonly name: string;
  /** The zone in effect at sec (Unix seconds). */
  lookup(sec: number): Zone;
  /** Go's lookupName: the offset of the zone abbreviated `name`, preferring one in effect near unix. */
  lookupName(name: string, unix: number): number | undefined;
}

const UTC_ZONE: Zone = Object.freeze({ name: 'UTC', offset: 0, isDST: false });

/** Go's UTC location: no zone list, so lookupName never matches. */
export const UTC: Location = Object.freeze({
  name: 'UTC',
  lookup: () => UTC_ZONE,
  lookupName: () => undefined,
});

/** A location that always has one zone (Go's FixedZone). */
export function fixedZone(name: string, offset: number): Location {
  const zone: Zone = { name, offset, isDST: false };
  return { name, lookup: () => zone, lookupName: (n) => (n === name ? offset : undefined) };
}

interface Transition {
  when: number;
  index: number;
}

/** A location read from TZif data (Go's LoadLocationFromTZData and Location.lookup). */
export class TzifLocation implements Location {
  constructor(
    readonly name: string,
    private readonly zones: readonly Zone[],
    private readonly tx: readonly Transition[],
    private readonly extend: string,
  ) {}

  static parse(name: string, data: Uint8Array): TzifLocation | undefined {
    const parsed = new TzifReader(data).read();
    if (!parsed) return undefined;
    const tx = parsed.tx.length === 0 ? [{ when: -Infinity, index: 0 }] : parsed.tx;
    return new TzifLocation(name, parsed.zones, tx, parsed.extend);
  }

  lookup(sec: number): Zone {
    const { tx, zones } = this;
    const first = tx[0]!;
    if (sec < first.when) return zones[this.#firstZone()]!;
    let lo = 0;
    let hi = tx.length;
    while (hi - lo > 1) {
      const m = (lo + hi) >>> 1;
      if (sec < tx[m]!.when) hi = m;
      else lo = m;
    }
    const zone = zones[tx[lo]!.index]!;
    if (lo === tx.length - 1 && this.extend !== '') {
      return tzset(this.extend, sec) ?? zone;
    }
    return zone;
  }

  lookupName(name: string, unix: number): number | undefined {
    for (const zone of this.zones) {
      if (zone.name === name && this.lookup(unix - zone.offset).name === zone.name) {
        return this.lookup(unix - zone.offset).offset;
      }
    }
    for (const zone of this.zones) if (zone.name === name) return zone.offset;
    return undefined;
  }

  /** Go's lookupFirstZone: the zone before the first transition. */
  #firstZone(): number {
    const { tx, zones } = this;
    if (!tx.some((t) => t.index === 0)) return 0;
    const firstIndex = tx[0]!.index;
    if (zones[firstIndex]!.isDST) {
      for (let zi = firstIndex - 1; zi >= 0; zi--) if (!zones[zi]!.isDST) return zi;
    }
    const std = zones.findIndex((z) => !z.isDST);
    return std === -1 ? 0 : std;
  }
}
