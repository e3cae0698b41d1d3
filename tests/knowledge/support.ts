/** A small knowledge base for the tests: a delivery policy, opening hours and a Q/A sheet. */
export const DELIVERY_POLICY = [
  '# Delivery',
  'We deliver anywhere in the city within two working days of your order.',
  '',
  '## Weekends',
  'We deliver on Sundays too, between 10:00 and 14:00, for orders placed before Friday noon.',
  '',
  '## Costs',
  'Delivery is free for orders above 50 EUR; below that it costs 4.90 EUR.',
].join('\n');

export const OPENING_HOURS = [
  '# Opening hours',
  'The shop opens Monday to Saturday from 9:00 to 19:00. It is closed on public holidays.',
].join('\n');

export const FAQ_CSV = [
  'question,answer',
  '"Can I pay by card?","Yes, we take Visa, Mastercard and American Express."',
  '"Do you sell gift vouchers?","Yes, vouchers from 10 EUR, valid for a year."',
].join('\n');

/** Polls `check` until it returns a value (not undefined/false) or the time is up. */
export async function until<T>(check: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}
