/**
 * Timestamps as PostgreSQL writes them with %m / %t / jsonlog: "2024-05-01 12:00:00.123 UTC".
 * The zone is log_timezone's abbreviation; numeric offsets and common abbreviations are understood,
 * anything else is read as UTC and reported by the caller through `unknownZones`.
 */
const ZONES: Record<string, number> = {
  UTC: 0,
  GMT: 0,
  Z: 0,
  UCT: 0,
  WET: 0,
  WEST: 60,
  BST: 60,
  CET: 60,
  CEST: 120,
  MET: 60,
  MEST: 120,
  EET: 120,
  EEST: 180,
  MSK: 180,
  IST: 330,
  JST: 540,
  KST: 540,
  AEST: 600,
  AEDT: 660,
  NZST: 720,
  NZDT: 780,
  EST: -300,
  EDT: -240,
  CST: -360,
  CDT: -300,
  MST: -420,
  MDT: -360,
  PST: -480,
  PDT: -420,
  AKST: -540,
  AKDT: -480,
  HST: -600,
};

export const unknownZones = new Set<string>();

let cacheSecond = '\0';
let cacheZone = '';
let cacheBase = NaN;

/** log_timezone as an IANA name (--log-timezone): every abbreviation is read in that zone. */
let logZone: Intl.DateTimeFormat | undefined;

/**
 * Read zone abbreviations in `zone` (an IANA name such as Europe/Dublin), which settles those that
 * mean two zones (IST: India or Ireland; CST: US Central or China); undefined goes back to the table.
 * Throws RangeError for an unknown zone.
 */
export function setLogTimezone(zone: string | undefined): void {
  logZone = zone
    ? new Intl.DateTimeFormat('en-US', {
        timeZone: zone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      })
    : undefined;
  // forget the cached second: no log line starts with NUL, so the next one is computed anew
  cacheSecond = '\0';
}

/** Offset (minutes) of logZone at the instant `utcMs`. */
function offsetAt(fmt: Intl.DateTimeFormat, utcMs: number): number {
  const p: Record<string, number> = {};
  for (const x of fmt.formatToParts(new Date(utcMs))) if (x.type !== 'literal') p[x.type] = Number(x.value);
  return (Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(utcMs / 1000) * 1000) / 60000;
}

/** UTC ms of a local wall-clock time (given as if UTC) in logZone. */
function fromLocal(fmt: Intl.DateTimeFormat, localAsUtc: number): number {
  const guess = localAsUtc - offsetAt(fmt, localAsUtc) * 60000;
  return localAsUtc - offsetAt(fmt, guess) * 60000;
}

function zoneOffsetMinutes(zone: string): number {
  if (zone === '') return 0;
  const known = ZONES[zone];
  if (known !== undefined) return known;
  const m = /^([+-])(\d{1,2}):?(\d{2})?$/.exec(zone);
  if (m) return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0));
  if (unknownZones.size < 20) unknownZones.add(zone);
  return 0;
}

/** Epoch ms, or NaN. Caches the whole-second part: consecutive lines share it. */
export function parsePgTimestamp(s: string): number {
  if (s.length < 19) return NaN;
  let ms = 0;
  let zoneStart = 19;
  if (s.charCodeAt(19) === 46 /* . */) {
    let end = 20;
    while (end < s.length && s.charCodeAt(end) >= 48 && s.charCodeAt(end) <= 57) end++;
    // milliseconds from the digits, without building strings
    let scale = 100;
    for (let k = 20; k < end; k++) {
      ms += (s.charCodeAt(k) - 48) * scale;
      scale /= 10;
    }
    zoneStart = end;
  }
  // Same second and zone as the previous line (the common case): compared in place, nothing sliced.
  const sameZone =
    zoneStart === s.length
      ? cacheZone === ''
      : s.length - zoneStart - 1 === cacheZone.length && s.endsWith(cacheZone) && cacheZone !== '';
  if (!sameZone || !s.startsWith(cacheSecond)) readSecond(s, zoneStart);
  return cacheBase + ms;
}

/**
 * A new second (or zone): read it into the cache. Apart from the check above, so that V8 optimizes
 * that (once a line) as a small function and this (once a second of log) on its own.
 */
function readSecond(s: string, zoneStart: number): void {
  const zone = zoneStart === s.length ? '' : s.slice(zoneStart + 1);
  const y = Number(s.slice(0, 4));
  const mo = Number(s.slice(5, 7));
  const d = Number(s.slice(8, 10));
  const h = Number(s.slice(11, 13));
  const mi = Number(s.slice(14, 16));
  const se = Number(s.slice(17, 19));
  const local = Date.UTC(y, mo - 1, d, h, mi, se);
  // With --log-timezone, an abbreviation is read in that zone; numeric offsets stay as written.
  const base =
    logZone && zone !== '' && !/^[+-]\d/.test(zone) && zone !== 'UTC' && zone !== 'GMT'
      ? fromLocal(logZone, local)
      : local - zoneOffsetMinutes(zone) * 60000;
  cacheSecond = s.slice(0, 19);
  cacheZone = zone;
  cacheBase = base;
}

/** %n: seconds since the epoch with milliseconds. */
export function parseEpoch(s: string): number {
  return Math.round(Number(s) * 1000);
}
