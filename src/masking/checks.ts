/**
 * Checksums and range rules that turn "looks like" into "is": Luhn and issuer prefixes for card
 * numbers, the SSA's never-issued SSN ranges, and the IBAN registry's lengths with the mod-97 check.
 */

/** True when `digits` (ASCII digits only) passes the Luhn check. */
export function luhn(digits: string): boolean {
  let sum = 0
  let double = false
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48
    if (double) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
    double = !double
  }
  return sum % 10 === 0
}

/**
 * True when a card number's issuer prefix (IIN) and length fit a scheme that issues such numbers:
 * Visa, Mastercard (51-55, 2221-2720), Amex, Discover, Diners, JCB, UnionPay, Maestro, Mir.
 */
export function plausibleIin(digits: string): boolean {
  const n = digits.length
  const p2 = Number(digits.slice(0, 2))
  const p4 = Number(digits.slice(0, 4))
  switch (digits.charCodeAt(0) - 48) {
    case 2: // Mir 2200-2204, Mastercard 2221-2720
      return (p4 >= 2200 && p4 <= 2204 && n >= 16) || (p4 >= 2221 && p4 <= 2720 && n === 16)
    case 3:
      if (p2 === 34 || p2 === 37) return n === 15 // Amex
      if (p2 === 35) return p4 >= 3528 && p4 <= 3589 && n >= 16 // JCB
      return (p2 === 30 || p2 === 36 || p2 === 38 || p2 === 39) && n >= 14 // Diners
    case 4: // Visa
      return n === 13 || n === 16 || n === 19
    case 5: // Mastercard 51-55 (16), Maestro 50, 56-59
      return p2 >= 51 && p2 <= 55 ? n === 16 : n >= 13
    case 6: // Discover, UnionPay, Maestro, RuPay
      return n >= 13
    default:
      return false
  }
}

/**
 * True when area-group-serial is an SSN the SSA could have issued: area not 000, 666 or 9xx,
 * group not 00, serial not 0000.
 */
export function validSsn(area: string, group: string, serial: string): boolean {
  return area !== '000' && area !== '666' && area.charCodeAt(0) !== 57 && group !== '00' && serial !== '0000'
}

/** IBAN length by country code, from the SWIFT IBAN registry. */
// prettier-ignore
export const IBAN_LENGTHS: ReadonlyMap<string, number> = new Map(
  Object.entries({
    AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28,
    CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18,
    FK: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HN: 28, HR: 21, HU: 28,
    IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20,
    LU: 20, LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20, MR: 27, MT: 31, MU: 30, NI: 28,
    NL: 18, NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, RU: 33, SA: 24,
    SC: 31, SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26,
    UA: 29, VA: 22, VG: 24, XK: 20, YE: 30,
  }),
)

/** True when a compact IBAN (upper-case letters and digits, no spaces) passes ISO 7064 mod 97-10. */
export function ibanChecksum(iban: string): boolean {
  const rearranged = iban.slice(4) + iban.slice(0, 4)
  let rem = 0
  for (let i = 0; i < rearranged.length; i++) {
    const c = rearranged.charCodeAt(i)
    if (c >= 48 && c <= 57) rem = (rem * 10 + (c - 48)) % 97
    else if (c >= 65 && c <= 90) rem = (rem * 100 + (c - 55)) % 97
    else return false
  }
  return rem === 1
}
