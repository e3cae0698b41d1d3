import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js';

/**
 * A phone number in E.164 (+14155550123), or null when it is not a valid number. Numbers written with
 * a leading + or 00 are international; others are read in the default region.
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
