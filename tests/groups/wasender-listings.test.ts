import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayNotConfiguredError, GatewayRejectedError } from '../../server/integrations/gateway';
import { createWasenderGateway } from '../../server/integrations/wasender';
import { type FakeWasender, startFakeWasender } from '../fakes/wasender-server';

let fake: FakeWasender;
beforeAll(async () => {
  fake = await startFakeWasender();
});
afterAll(() => fake?.close());

const client = (token = fake.token) =>
  createWasenderGateway({ baseUrl: `${fake.url}/api`, apiToken: token, timeoutMs: 2000 });

describe('WaSender client: groups, contacts, status', () => {
  it('maps the session status', async () => {
    for (const [raw, state] of [
      ['connected', 'connected'],
      ['need_scan', 'disconnected'],
      ['logged_out', 'disconnected'],
      ['something_new', 'unknown'],
    ] as const) {
      fake.setSessionStatus(raw);
      expect(await client().status!()).toEqual({ state, detail: { sessionStatus: raw } });
    }
  });

  it('lists groups with their participants, phones where the JID has one', async () => {
    fake.setGroups([
      {
        id: '120363000000000101@g.us',
        name: 'Team',
        participants: [{ id: '14155550101@s.whatsapp.net', admin: 'admin' }, { id: '55512345678901@lid' }],
      },
    ]);
    expect(await client().listGroups!()).toEqual([
      {
        id: '120363000000000101@g.us',
        name: 'Team',
        participants: [
          { jid: '14155550101@s.whatsapp.net', phone: '+14155550101', admin: true },
          { jid: '55512345678901@lid', phone: null, admin: false },
        ],
      },
    ]);
  });

  it('lists contacts in E.164 with a name from name, notify or verifiedName, skipping entries without a number', async () => {
    fake.setContacts([
      { id: '14155550201@s.whatsapp.net', name: 'Ann', imgUrl: 'https://pps.example/a.jpg' },
      { jid: '14155550202@s.whatsapp.net', notify: 'Ben', imgUrl: 'javascript:alert(1)' },
      { id: '14155550203', verifiedName: 'Cy Ltd' },
      { id: '123@lid', name: 'Lid only' },
      { id: 42 },
      'not an object' as unknown as Record<string, unknown>,
    ]);
    expect(await client().listContacts!()).toEqual([
      { phone: '+14155550201', name: 'Ann', pictureUrl: 'https://pps.example/a.jpg' },
      { phone: '+14155550202', name: 'Ben', pictureUrl: null },
      { phone: '+14155550203', name: 'Cy Ltd', pictureUrl: null },
    ]);
  });

  it('sends mentions only when there are some', async () => {
    const before = fake.requests.length;
    await client().sendText({
      to: '120363000000000101@g.us',
      text: 'hi @14155550101',
      mentions: ['14155550101@s.whatsapp.net'],
    });
    await client().sendText({ to: '+14155550101', text: 'plain' });
    const [withMentions, plain] = fake.requests.slice(before).map((r) => r.body);
    expect(withMentions).toEqual({
      to: '120363000000000101@g.us',
      text: 'hi @14155550101',
      mentions: ['14155550101@s.whatsapp.net'],
    });
    expect(plain).toEqual({ to: '+14155550101', text: 'plain' });
  });

  it('refuses with a wrong key (without repeating it) and without a key', async () => {
    const err = await client('wrong-key-123456').listGroups!().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayRejectedError);
    expect((err as GatewayRejectedError).status).toBe(401);
    expect((err as Error).message).not.toContain('wrong-key-123456');
    await expect(client('').status!()).rejects.toBeInstanceOf(GatewayNotConfiguredError);
  });
});
