import type { TChannel } from '../contracts/conversations';

/**
 * The Cloud API's customer-service window: a business may send free-form messages only until 24
 * hours after the customer's last message; after that, only approved templates. Counted from the
 * time the customer's last message was stored (`conversations.last_inbound_at`), a moment after the
 * customer sent it, so a send right at the edge is refused here rather than by Meta.
 * WaSender has no such window: null, and nothing is enforced.
 */
export const CUSTOMER_WINDOW_MS = 24 * 60 * 60 * 1000;

/** A safety margin: sends in the last minute of the window count as outside (clocks and queues lag). */
const EDGE_MS = 60 * 1000;

/** When free-form messages stop being allowed (null: no window on this channel, or never opened). */
export function windowClosesAt(channel: TChannel, lastInboundAt: Date | null): Date | null {
  if (channel !== 'whatsapp-cloud' || !lastInboundAt) return null;
  return new Date(lastInboundAt.getTime() + CUSTOMER_WINDOW_MS);
}

/** Whether a free-form message may go now: always on WaSender; within the window on the Cloud API. */
export function windowOpen(channel: TChannel, lastInboundAt: Date | null, now = new Date()): boolean {
  if (channel !== 'whatsapp-cloud') return true;
  const closes = windowClosesAt(channel, lastInboundAt);
  return closes !== null && now.getTime() < closes.getTime() - EDGE_MS;
}

/** The reason shown when a free-form message is refused outside the window. */
export const WINDOW_CLOSED_REASON =
  "outside the WhatsApp Cloud API's 24-hour customer service window (no customer message in the last 24 hours): only an approved template can be sent";

/**
 * Why a free-form message may not go now through `gatewayName`, or null when it may. Only the Cloud
 * API has the window; a conversation whose customer never wrote on the Cloud channel has none open.
 */
export function windowRefusal(
  gatewayName: string,
  conv: { channel: TChannel; lastInboundAt: Date | null },
  now = new Date(),
): string | null {
  if (gatewayName !== 'whatsapp-cloud') return null;
  if (conv.channel === 'whatsapp-cloud' && windowOpen('whatsapp-cloud', conv.lastInboundAt, now)) return null;
  return WINDOW_CLOSED_REASON;
}
