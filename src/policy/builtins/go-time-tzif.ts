/**
 * A TZif file (RFC 8536) read as Go's LoadLocationFromTZData reads it (go1.26 zoneinfo_read.go):
 * the 64-bit body of version 2+ files, zone abbreviations cut at NUL, the footer's POSIX TZ string
 * kept when it is framed by newlines. Leap-second records are skipped, as Go skips them.
 */

export interface TzifData {
  zones: { name: string; offset: number; isDST: boolean }[];
  tx: { when: number; index: number }[];
  extend: string;
}

type Counts = [number, number, number, number, number, number];

export class TzifReader {
  #pos = 0;
  #bad = false;

  constructor(private readonly data: Uint8Array) {}

  /** The zones, transitions and footer; undefined for malformed data (Go: errBadData). */
  read(): TzifData | undefined {
    if (this.#text(4) !== 'TZif') return undefined;
    const header = this.#bytes(16);
    const versionByte = header[0];
    if (this.#bad || (versionByte !== 0 && versionByte !== 0x32 && versionByte !== 0x33)) return undefined;
    let counts = this.#counts();
    let size = 4;
    if (versionByte !== 0) {
      // Skip the 32-bit body and read the second header.
      const [utcLocal, stdWall, leap, time, zone, char] = counts;
      this.#bytes(time * 4 + time + zone * 6 + char + leap * 8 + stdWall + utcLocal + 4 + 16);
      counts = this.#counts();
      size = 8;
    }
    const [nUtcLocal, nStdWall, nLeap, nTime, nZone, nChar] = counts;
    const times = this.#bytes(nTime * size);
    const txZones = this.#bytes(nTime);
    const zoneData = this.#bytes(nZone * 6);
    const abbrev = this.#bytes(nChar);
    this.#bytes(nLeap * (size + 4));
    this.#bytes(nStdWall);
    this.#bytes(nUtcLocal);
    if (this.#bad || nZone === 0) return undefined;

    const rest = this.data.subarray(this.#pos);
    const extend = rest.length > 2 && rest[0] === 0x0a && rest[rest.length - 1] === 0x0a
      ? Buffer.from(rest.subarray(1, rest.length - 1)).toString('latin1')
      : '';

    const zones: TzifData['zones'] = [];
    const zoneView = new DataView(zoneData.buffer, zoneData.byteOffset, zoneData.byteLength);
    for (let i = 0; i < nZone; i++) {
      const abbrevIndex = zoneData[i * 6 + 5]!;
      if (abbrevIndex >= abbrev.length) return undefined;
      let end = abbrev.indexOf(0, abbrevIndex);
      if (end === -1) end = abbrev.length;
      zones.push({
        offset: zoneView.getInt32(i * 6),
        isDST: zoneData[i * 6 + 4] !== 0,
        name: Buffer.from(abbrev.subarray(abbrevIndex, end)).toString('latin1'),
      });
    }

    const tx: TzifData['tx'] = [];
    const timeView = new DataView(times.buffer, times.byteOffset, times.byteLength);
    for (let i = 0; i < nTime; i++) {
      const when = size === 8 ? Number(timeView.getBigInt64(i * 8)) : timeView.getInt32(i * 4);
      const index = txZones[i]!;
      if (index >= zones.length) return undefined;
      tx.push({ when, index });
    }
    return { zones, tx, extend };
  }

  #bytes(n: number): Uint8Array {
    if (this.data.length - this.#pos < n) {
      this.#bad = true;
      this.#pos = this.data.length;
      return new Uint8Array(0);
    }
    const out = this.data.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }

  #text(n: number): string {
    return Buffer.from(this.#bytes(n)).toString('latin1');
  }

  /** The six counts: isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt. */
  #counts(): Counts {
    const raw = this.#bytes(24);
    if (this.#bad) return [0, 0, 0, 0, 0, 0];
    const view = new DataView(raw.buffer, raw.byteOffset, 24);
    const at = (i: number) => view.getUint32(i * 4);
    return [at(0), at(1), at(2), at(3), at(4), at(5)];
  }
}
