/**
 * A Node script following `conversations.events` over Server-Sent Events (Node 20 has no EventSource, so
 * the `eventsource` package's class is passed in). Once connected it starts a conversation, waits for the
 * event that announces the new message, and prints it as one JSON line.
 *
 *   API_URL=http://127.0.0.1:3000/trpc API_KEY=wcb_... CONTACT_PHONE=+14155550177 node subscribe.js
 */
import { type ConversationEvent, createClient } from '@whatsapp-crm/sdk';
import { EventSource } from 'eventsource';

const url = process.env.API_URL ?? 'http://127.0.0.1:3000/trpc';
const apiKey = process.env.API_KEY ?? '';
const phone = process.env.CONTACT_PHONE ?? '+14155550177';

const client = createClient({ url, apiKey, EventSource });

const received = await new Promise<{
  eventId: string;
  event: ConversationEvent['data'];
  conversationId: string;
}>((resolve, reject) => {
  let conversationId: string | null = null;
  const early: ConversationEvent[] = [];
  const timer = setTimeout(() => {
    subscription.unsubscribe();
    reject(new Error('no message.created event within 20 s'));
  }, 20_000);
  const settle = (e: ConversationEvent) => {
    if (e.data.type !== 'message.created' || e.data.conversationId !== conversationId) return false;
    clearTimeout(timer);
    subscription.unsubscribe();
    resolve({ eventId: e.id, event: e.data, conversationId });
    return true;
  };
  const subscription = client.conversations.events.subscribe(
    {},
    {
      onStarted() {
        // Connected: now cause an event, and keep whatever arrives before the answer names the conversation.
        client.conversations.start
          .mutate({ phone, text: 'Hello from a Node script' })
          .then((started) => {
            conversationId = started.conversationId;
            early.some(settle);
          })
          .catch((err: unknown) => {
            clearTimeout(timer);
            subscription.unsubscribe();
            reject(err);
          });
      },
      onData(e) {
        if (conversationId === null) early.push(e);
        else settle(e);
      },
      onError(err) {
        clearTimeout(timer);
        reject(err);
      },
    },
  );
});

console.log(JSON.stringify(received));
