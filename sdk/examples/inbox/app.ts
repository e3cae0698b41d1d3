/**
 * A small live team inbox on the sdk: "mine / unassigned / all" tabs with their counts, a conversation list
 * that follows `conversations.events` in real time (other people's assignments and status changes too); a
 * conversation opens with its messages, can be assigned to the signed-in person, unassigned and resolved,
 * its bot can be switched off and on, and an agent can reply.
 *
 * Sign-in: a sign-in token (a Supabase Auth access token; `npm run staff:token` in development) or an API
 * key, pasted into the form, or given in development as `?api=...&token=...` (or `#api=...&key=...`) in the
 * address: the page reads it and removes it from the address bar at once. The credential is kept in memory
 * only, never in storage; a real dashboard passes supabase-js's session token through `getToken`. The
 * events stream never carries it: in browsers the sdk opens each connection with a single-use stream ticket.
 */
import {
  type Client,
  createClient,
  errorCode,
  type RouterOutputs,
  type TAppEvent,
  validationDetails,
} from '@whatsapp-crm/sdk';

type ListItem = RouterOutputs['conversations']['list']['items'][number];
type Message = RouterOutputs['conversations']['messages']['items'][number];
type Detail = RouterOutputs['conversations']['get'];
type Me = RouterOutputs['staff']['me'];
type Tab = 'mine' | 'unassigned' | 'all';

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
  who: $('who'),
  tabs: [...document.querySelectorAll<HTMLButtonElement>('#tabs [data-tab]')],
  owner: $('owner'),
  status: $('status'),
  assignee: $('assignee'),
  assignMe: $<HTMLButtonElement>('assign-me'),
  unassign: $<HTMLButtonElement>('unassign'),
  resolve: $<HTMLButtonElement>('resolve'),
  actionError: $('action-error'),
  toggle: $<HTMLButtonElement>('toggle-bot'),
  messages: $<HTMLOListElement>('messages'),
  reply: $<HTMLFormElement>('reply'),
  replyError: $('reply-error'),
};

const state: {
  client: Client | null;
  /** The credential, in memory only. */
  token: string | null;
  me: Me | null;
  subscription: { unsubscribe(): void } | null;
  tab: Tab;
  items: ListItem[];
  openId: string | null;
  detail: Detail | null;
  events: number;
} = {
  client: null,
  token: null,
  me: null,
  subscription: null,
  tab: 'all',
  items: [],
  openId: null,
  detail: null,
  events: 0,
};

const CREDENTIAL_PARAMS = ['api', 'token', 'key'];

/**
 * Reads `api` and `token` (or `key`) from the address's query or fragment, then removes them from the
 * address bar (history.replaceState), so the credential stays in neither the address nor the history.
 */
function readAddress(): { api: string; token: string } | null {
  const query = new URLSearchParams(location.search);
  const hash = new URLSearchParams(location.hash.slice(1));
  const get = (name: string) => query.get(name) ?? hash.get(name);
  const api = get('api');
  const token = get('token') ?? get('key');
  if (![...query.keys(), ...hash.keys()].some((k) => CREDENTIAL_PARAMS.includes(k))) return null;
  for (const name of CREDENTIAL_PARAMS) {
    query.delete(name);
    hash.delete(name);
  }
  const search = query.size ? `?${query}` : '';
  const fragment = hash.size ? `#${hash}` : '';
  history.replaceState(null, '', location.pathname + search + fragment);
  return api && token ? { api, token } : null;
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
      li.dataset.status = c.status;
      li.dataset.assigneeId = c.assignee?.id ?? '';
      li.setAttribute('aria-selected', String(c.id === state.openId));
      if (c.unreadCount > 0) li.append(el('span', 'unread', String(c.unreadCount)));
      li.append(
        el('span', 'status-tag', c.status),
        el('div', 'name', c.contact.name ?? c.contact.pushName ?? c.contact.phone),
        preview(c),
        el('div', 'muted assignee', c.assignee ? `→ ${c.assignee.name}` : 'unassigned'),
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
  els.status.dataset.status = conversation.status;
  els.status.textContent = conversation.status;
  els.assignee.dataset.assigneeId = conversation.assignee?.id ?? '';
  els.assignee.textContent = conversation.assignee
    ? `Assigned to ${conversation.assignee.name}`
    : 'Unassigned';
  const myId = state.me?.kind === 'staff' ? state.me.staff.id : null;
  // Only a signed-in person has a "me"; an API key can still unassign and resolve.
  els.assignMe.hidden = !myId || conversation.assignee?.id === myId;
  els.unassign.hidden = !conversation.assignee;
  els.resolve.textContent = conversation.status === 'resolved' ? 'Reopen' : 'Resolve';
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

function renderTabs(counts?: RouterOutputs['conversations']['inboxCounts']) {
  for (const tab of els.tabs) {
    const name = tab.dataset.tab as Tab;
    tab.setAttribute('aria-selected', String(name === state.tab));
    // "Mine" needs a signed-in person; an API key is nobody in particular.
    if (name === 'mine') tab.hidden = state.me?.kind !== 'staff';
    const count = tab.querySelector('.count');
    if (counts && count) count.textContent = String(counts[name]);
  }
}

async function refreshList() {
  const client = state.client;
  if (!client) return;
  const tab = state.tab;
  const assignee = tab === 'all' ? undefined : tab === 'mine' ? ('me' as const) : ('unassigned' as const);
  // Both queries travel in one batched request.
  const [page, counts] = await Promise.all([
    client.conversations.list.query({ limit: 50, assignee }),
    client.conversations.inboxCounts.query(),
  ]);
  if (state.tab !== tab) return;
  state.items = page.items;
  renderTabs(counts);
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
  els.actionError.textContent = '';
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
  // Signed out (an expired or refused token): sign in again. A FORBIDDEN action is not a sign-out.
  if (errorCode(err) === 'UNAUTHORIZED') {
    els.connectError.textContent = `The API refused the sign-in: ${err instanceof Error ? err.message : ''}`;
    state.token = null;
    els.connect.hidden = false;
    els.inbox.hidden = true;
  }
}

async function start(api: string, token: string) {
  state.token = token;
  // Read before every request and every stream ticket (the stream itself carries a single-use ticket).
  const client = createClient({ url: api, getToken: () => state.token });
  state.subscription?.unsubscribe();
  state.client = client;
  try {
    state.me = await client.staff.me.query();
  } catch (err) {
    report(err);
    els.connect.hidden = false;
    return;
  }
  els.who.textContent =
    state.me.kind === 'staff' ? `${state.me.staff.displayName} (${state.me.staff.role})` : state.me.name;
  els.who.dataset.kind = state.me.kind;
  if (state.me.kind === 'staff') els.who.dataset.staffId = state.me.staff.id;
  if (state.me.kind !== 'staff' && state.tab === 'mine') state.tab = 'all';
  renderTabs();
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

/** Runs an action on the open conversation, shows a refusal (such as another agent's conversation). */
async function act(button: HTMLButtonElement, run: (client: Client, detail: Detail) => Promise<unknown>) {
  const detail = state.detail;
  if (!state.client || !detail) return;
  els.actionError.textContent = '';
  button.disabled = true;
  try {
    await run(state.client, detail);
    await Promise.all([refreshDetail(), refreshList()]);
  } catch (err) {
    if (errorCode(err) === 'UNAUTHORIZED') report(err);
    else els.actionError.textContent = err instanceof Error ? err.message : String(err);
  } finally {
    button.disabled = false;
  }
}

els.assignMe.addEventListener('click', () =>
  act(els.assignMe, (client, { conversation }) =>
    client.conversations.assign.mutate({
      conversationId: conversation.id,
      staffId: state.me?.kind === 'staff' ? state.me.staff.id : null,
    }),
  ),
);

els.unassign.addEventListener('click', () =>
  act(els.unassign, (client, { conversation }) =>
    client.conversations.assign.mutate({ conversationId: conversation.id, staffId: null }),
  ),
);

els.resolve.addEventListener('click', () =>
  act(els.resolve, (client, { conversation }) =>
    client.conversations.setStatus.mutate({
      conversationId: conversation.id,
      status: conversation.status === 'resolved' ? 'open' : 'resolved',
    }),
  ),
);

for (const tab of els.tabs) {
  tab.addEventListener('click', () => {
    state.tab = tab.dataset.tab as Tab;
    renderTabs();
    refreshList().catch(report);
  });
}

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
  const api = String(data.get('api'));
  // The endpoint is no secret: remembered for the next visit. The token is not.
  localStorage.setItem('inbox.api', api);
  els.connectError.textContent = '';
  void start(api, String(data.get('token')));
});

const fromAddress = readAddress();
if (fromAddress) void start(fromAddress.api, fromAddress.token);
else {
  const api = els.connect.elements.namedItem('api') as HTMLInputElement;
  api.value = localStorage.getItem('inbox.api') ?? '';
  els.connect.hidden = false;
}
