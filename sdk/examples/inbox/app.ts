/**
 * A small live inbox on the sdk: the conversation list follows `conversations.events` in real time; a
 * conversation opens with its messages, its bot can be switched off and on, and an agent can reply.
 *
 * The API endpoint and key come from the connect form (or `#api=...&key=...` in the address, which the page
 * moves into sessionStorage and removes from the address bar).
 */
import {
  type Client,
  createClient,
  isAuthError,
  type RouterOutputs,
  type TAppEvent,
  validationDetails,
} from '@whatsapp-crm/sdk';

type ListItem = RouterOutputs['conversations']['list']['items'][number];
type Message = RouterOutputs['conversations']['messages']['items'][number];
type Detail = RouterOutputs['conversations']['get'];

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const els = {
  connection: $('connection'),
  connect: $<HTMLFormElement>('connect'),
  connectError: $('connect-error'),
  inbox: $('inbox'),
  list: $<HTMLUListElement>('conversations'),
  empty: $('empty'),
  detail: $('detail'),
  name: $('contact-name'),
  phone: $('contact-phone'),
  owner: $('owner'),
  toggle: $<HTMLButtonElement>('toggle-bot'),
  messages: $<HTMLOListElement>('messages'),
  reply: $<HTMLFormElement>('reply'),
  replyError: $('reply-error'),
};

const state: {
  client: Client | null;
  subscription: { unsubscribe(): void } | null;
  items: ListItem[];
  openId: string | null;
  detail: Detail | null;
  events: number;
} = { client: null, subscription: null, items: [], openId: null, detail: null, events: 0 };

/** The API endpoint, once an endpoint and a key are known (the key itself stays in sessionStorage). */
function readSettings(): string | null {
  const fromHash = new URLSearchParams(location.hash.slice(1));
  const api = fromHash.get('api');
  const key = fromHash.get('key');
  if (api && key) {
    sessionStorage.setItem('inbox.api', api);
    sessionStorage.setItem('inbox.key', key);
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem('inbox.key') ? sessionStorage.getItem('inbox.api') : null;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  // Text only, never HTML: names and messages come from customers.
  if (text !== undefined) node.textContent = text;
  return node;
}

const time = (d: Date | null) => (d ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : '');

function preview(c: ListItem) {
  const line = el('div', 'preview');
  const tag = el('span', 'owner-tag', c.owner === 'bot' ? 'bot' : 'human');
  tag.dataset.owner = c.owner;
  line.append(tag, c.lastMessagePreview ?? '');
  return line;
}

function renderList() {
  els.list.replaceChildren(
    ...state.items.map((c) => {
      const li = el('li');
      li.dataset.conversationId = c.id;
      li.dataset.owner = c.owner;
      li.setAttribute('aria-selected', String(c.id === state.openId));
      if (c.unreadCount > 0) li.append(el('span', 'unread', String(c.unreadCount)));
      li.append(
        el('div', 'name', c.contact.name ?? c.contact.pushName ?? c.contact.phone),
        preview(c),
        el('div', 'muted', time(c.lastMessageAt)),
      );
      li.addEventListener('click', () => void openConversation(c.id));
      return li;
    }),
  );
  els.empty.hidden = state.items.length > 0;
}

function renderDetail(detail: Detail, messages: Message[]) {
  const { contact, conversation } = detail;
  els.detail.hidden = false;
  els.detail.dataset.conversationId = conversation.id;
  els.name.textContent = contact.name ?? contact.pushName ?? contact.phone;
  els.phone.textContent = contact.phone;
  els.owner.dataset.owner = conversation.owner;
  els.owner.textContent = conversation.owner === 'bot' ? 'Bot is answering' : 'A human is answering';
  els.toggle.textContent = conversation.owner === 'bot' ? 'Take over (bot off)' : 'Hand back to bot';
  // The newest page comes newest first; show it oldest first, like a chat.
  els.messages.replaceChildren(
    ...[...messages].reverse().map((m) => {
      const li = el('li', undefined, m.body ?? `[${m.type}]`);
      li.dataset.direction = m.direction;
      li.dataset.author = m.author;
      li.append(el('span', 'meta', `${m.author} · ${time(m.createdAt)} · ${m.status}`));
      return li;
    }),
  );
  els.messages.scrollTop = els.messages.scrollHeight;
}

async function refreshList() {
  if (!state.client) return;
  const page = await state.client.conversations.list.query({ limit: 50 });
  state.items = page.items;
  renderList();
}

async function refreshDetail() {
  const id = state.openId;
  if (!state.client || !id) return;
  // Both queries travel in one batched request.
  const [detail, page] = await Promise.all([
    state.client.conversations.get.query({ id }),
    state.client.conversations.messages.query({ conversationId: id, limit: 50 }),
  ]);
  if (state.openId !== id) return;
  state.detail = detail;
  renderDetail(detail, page.items);
  // The agent is looking at it: what arrived is read.
  if (detail.conversation.unreadCount > 0)
    await state.client.conversations.markRead.mutate({ conversationId: id });
}

async function openConversation(id: string) {
  state.openId = id;
  renderList();
  els.replyError.textContent = '';
  await refreshDetail();
}

/** Coalesces bursts of events into one refresh. */
function debounce(fn: () => Promise<void>, ms: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(() => void fn().catch(report), ms);
  };
}
const refreshListSoon = debounce(refreshList, 80);
const refreshDetailSoon = debounce(refreshDetail, 80);

function onEvent(event: TAppEvent) {
  state.events += 1;
  document.body.dataset.events = String(state.events);
  refreshListSoon();
  if ('conversationId' in event && event.conversationId === state.openId) refreshDetailSoon();
}

function report(err: unknown) {
  console.error(err);
  if (isAuthError(err)) {
    els.connectError.textContent = 'The API refused the key.';
    els.connect.hidden = false;
    els.inbox.hidden = true;
  }
}

function start(api: string) {
  // Read before every request and every (re)connection of the event stream.
  const client = createClient({ url: api, getToken: () => sessionStorage.getItem('inbox.key') });
  state.subscription?.unsubscribe();
  state.client = client;
  els.connect.hidden = true;
  els.inbox.hidden = false;
  state.subscription = client.conversations.events.subscribe(
    {},
    {
      onData: ({ data }) => onEvent(data),
      onError: report,
      onConnectionStateChange: (s) => {
        els.connection.dataset.state = s.state;
        els.connection.textContent = s.state === 'pending' ? 'live' : s.state;
      },
    },
  );
  refreshList().catch(report);
}

els.toggle.addEventListener('click', async () => {
  const detail = state.detail;
  if (!state.client || !detail) return;
  els.toggle.disabled = true;
  try {
    await state.client.bot.setEnabled.mutate({
      conversationId: detail.conversation.id,
      enabled: detail.conversation.owner !== 'bot',
      reason: 'switched in the inbox',
    });
    await refreshDetail();
  } catch (err) {
    report(err);
  } finally {
    els.toggle.disabled = false;
  }
});

els.reply.addEventListener('submit', async (e) => {
  e.preventDefault();
  const id = state.openId;
  const field = els.reply.elements.namedItem('text') as HTMLTextAreaElement;
  if (!state.client || !id) return;
  els.replyError.textContent = '';
  try {
    await state.client.conversations.sendMessage.mutate({ conversationId: id, text: field.value });
    field.value = '';
    await refreshDetail();
  } catch (err) {
    const details = validationDetails(err);
    if (details) els.replyError.textContent = details.fieldErrors.text?.join(', ') ?? details.message;
    else report(err);
  }
});

els.connect.addEventListener('submit', (e) => {
  e.preventDefault();
  const data = new FormData(els.connect);
  sessionStorage.setItem('inbox.api', String(data.get('api')));
  sessionStorage.setItem('inbox.key', String(data.get('key')));
  start(String(data.get('api')));
});

const api = readSettings();
if (api) start(api);
else els.connect.hidden = false;
