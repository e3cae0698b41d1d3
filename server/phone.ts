import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js/max';

/**
 * A phone number a person typed (CRM forms, imports, campaign audiences, new conversations) in E.164
 * (+14155550123), or null when it is not a valid number. Validated against the library's full
 * metadata, which knows each country's exact number ranges. Numbers written with a leading + or 00
 * are international; others are read in the default region.
 */
export function toE164(input: string, defaultRegion: string): string | null {
  const cleaned = input.trim().replace(/^00/, '+');
  if (!cleaned) return null;
  const digitsOnly = /^[0-9]{8,15}$/.test(cleaned);
  const parsed =
    parsePhoneNumberFromString(cleaned, defaultRegion as CountryCode) ??
    (digitsOnly ? parsePhoneNumberFromString(`+${cleaned}`) : undefined);
  if (!parsed?.isValid()) {
    // WhatsApp ids carry the full international number without '+'.
    if (digitsOnly) {
      const intl = parsePhoneNumberFromString(`+${cleaned}`);
      if (intl?.isValid()) return intl.number;
    }
    return null;
  }
  return parsed.number;
}

/** E.164 allows 15 digits at most; the shortest numbers in use have 7. The first digit is a country code. */
const PLAUSIBLE_E164_DIGITS = /^[1-9][0-9]{6,14}$/;

/**
 * A number WhatsApp delivered a message from (the digits of a phone JID, with or without `+`) in E.164,
 * or null when it is not a plausible international number (7 to 15 digits, not starting with 0).
 *
 * Deliberately lenient: WhatsApp only delivers from numbers that exist, and the library's metadata
 * refuses some that do (fictional-looking ranges such as US 555 or UK 07700 900, legacy Ivory Coast
 * 8-digit numbers, Mexican mobile ids with the old `1` after 52). The digits are kept exactly as
 * WhatsApp gave them, since that is the id replies must go to.
 */
export function gatewayPhoneToE164(input: string): string | null {
  const digits = input.trim().replace(/^\+/, '');
  return PLAUSIBLE_E164_DIGITS.test(digits) ? `+${digits}` : null;
}
