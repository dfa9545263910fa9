/**
 * A decimal number read in place from a log line (a pid, a duration): what Number() gives for the
 * text from `from` to `to`, without slicing a string for it (Number() of a string also hashes it, to
 * check whether it is an array index; the hot path reads one or two numbers a line).
 */
export function decimalAt(s: string, from: number, to: number): number {
  let int = 0;
  let digits = 0;
  let scale = 1;
  let dot = false;
  for (let k = from; k < to; k++) {
    const c = s.charCodeAt(k);
    if (c >= 48 && c <= 57) {
      int = int * 10 + (c - 48);
      digits++;
      if (dot) scale *= 10;
    } else if (c === 46 && !dot) dot = true;
    else return Number(s.slice(from, to)); // a sign, an exponent, spaces...: Number()'s own rules
  }
  // Up to 15 digits the integer and the power of ten are exact doubles, so the one division is
  // correctly rounded: the same double as Number()'s. Longer, or no digit at all (''): Number().
  if (digits === 0 || digits > 15) return Number(s.slice(from, to));
  return dot ? int / scale : int;
}
