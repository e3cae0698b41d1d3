import postgres from 'postgres';
import { openDatabase } from '../server/db/client';
import { runMigrations } from '../server/db/migrate';
import { fail } from './_cli';
import { parseCli } from './lib/command-line';

/**
 * Fills a Postgres database with a realistic data set for benchmarks: contacts, one conversation each
 * for some of them, messages spread over the last days, tasks (handoffs among them), deals, activities
 * and campaigns. Everything is made by `insert ... select generate_series` inside Postgres, so a million
 * messages take a minute or two rather than an hour.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/wcb_bench npx tsx scripts/generate-data.ts \
 *     [--contacts 50000] [--conversations 20000] [--messages 1000000] [--days 90] [--reset]
 *
 * The database is created when it does not exist and migrated. It must be empty unless --reset is
 * given, which deletes every contact (and with them conversations, messages and CRM rows) first.
 */
const cli = parseCli({
  usage:
    'Usage: DATABASE_URL=postgres://… npx tsx scripts/generate-data.ts [--contacts 50000] [--conversations 20000] [--messages 1000000] [--days 90] [--reset]',
  options: {
    contacts: { type: 'string' },
    conversations: { type: 'string' },
    messages: { type: 'string' },
    days: { type: 'string' },
    reset: { type: 'boolean' },
  },
});
const args = cli.values;
const url = process.env.DATABASE_URL;
if (!url) fail('Set DATABASE_URL to the Postgres database to fill (it is created if missing).');

const sizes = {
  contacts: cli.int('contacts', 50_000),
  conversations: cli.int('conversations', 20_000),
  messages: cli.int('messages', 1_000_000),
  days: Math.max(1, cli.int('days', 90)),
};
if (sizes.conversations > sizes.contacts) cli.usageError('--conversations cannot exceed --contacts');
if (sizes.messages > 0 && sizes.conversations === 0) fail('messages need at least one conversation');

async function ensureDatabase(target: string) {
  const u = new URL(target);
  const name = decodeURIComponent(u.pathname.slice(1));
  if (!/^[a-z_][a-z0-9_]*$/i.test(name)) fail(`unsupported database name "${name}"`);
  const admin = new URL(target);
  admin.pathname = '/postgres';
  const sql = postgres(admin.toString(), { max: 1, onnotice: () => {} });
  try {
    const [found] = await sql`select 1 from pg_database where datname = ${name}`;
    if (!found) {
      await sql.unsafe(`create database "${name}"`);
      log(`created database ${name}`);
    }
  } finally {
    await sql.end();
  }
}

const started = Date.now();
function log(msg: string) {
  process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}\n`);
}

const FIRST = [
  'Ada',
  'Ben',
  'Chloe',
  'David',
  'Elena',
  'Farid',
  'Grace',
  'Hugo',
  'Ines',
  'Jonas',
  'Kira',
  'Luis',
  'Maya',
  'Noah',
  'Olga',
  'Priya',
  'Quentin',
  'Rosa',
  'Sami',
  'Tara',
  'Umar',
  'Vera',
  'Wei',
  'Yara',
  'Zane',
];
const LAST = [
  'Abbott',
  'Banerjee',
  'Costa',
  'Dubois',
  'Evans',
  'Fischer',
  'Garcia',
  'Haddad',
  'Ito',
  'Jensen',
  'Kowalski',
  'Lopez',
  'Murphy',
  'Nakamura',
  'Okafor',
  'Patel',
  'Quinn',
  'Rossi',
  'Schmidt',
  'Tanaka',
  'Usman',
  'Varga',
  'Wong',
  'Xu',
  'Young',
  'Zimmer',
];
const COMPANIES = [
  'Acme',
  'Globex',
  'Initech',
  'Umbrella',
  'Hooli',
  'Vandelay',
  'Stark',
  'Wayne',
  'Wonka',
  'Tyrell',
];
const WORDS = [
  'hello',
  'hi',
  'thanks',
  'price',
  'order',
  'delivery',
  'tomorrow',
  'today',
  'please',
  'can',
  'you',
  'send',
  'me',
  'the',
  'catalogue',
  'invoice',
  'payment',
  'received',
  'when',
  'will',
  'it',
  'arrive',
  'size',
  'colour',
  'blue',
  'red',
  'large',
  'small',
  'discount',
  'offer',
  'available',
  'stock',
  'shipping',
  'address',
  'refund',
  'return',
  'warranty',
  'support',
  'help',
  'question',
  'about',
  'product',
  'service',
  'booking',
  'appointment',
  'morning',
  'afternoon',
  'call',
  'later',
  'great',
  'perfect',
  'okay',
  'sure',
  'yes',
  'no',
  'maybe',
  'how',
  'much',
  'is',
  'this',
  'that',
  'we',
  'our',
  'team',
  'will',
  'check',
  'and',
  'get',
  'back',
  'to',
  'shortly',
  'sorry',
  'for',
  'the',
  'wait',
  'your',
  'tracking',
  'number',
  'confirmed',
  'cancel',
  'change',
  'quantity',
  'bulk',
  'wholesale',
  'samples',
];
const arr = (xs: string[]) => `array[${xs.map((x) => `'${x.replace(/'/g, "''")}'`).join(',')}]`;

async function main() {
  await ensureDatabase(url!);
  const database = await openDatabase({ url, poolMax: 2, prepare: true, dataDir: 'memory://' });
  const sql = database.sql;
  try {
    await runMigrations(database);
    const [{ n }] = (await sql`select count(*)::int as n from contacts`) as unknown as [{ n: number }];
    if (n > 0) {
      if (!args.reset) fail(`The database already has ${n} contacts; pass --reset to replace them.`);
      log('deleting the existing data');
      // message_stats too: its buckets were counted from the messages being replaced.
      await sql`truncate contacts, conversations, messages, message_stats, bot_events, deals, tasks, activities, campaigns, campaign_recipients, events cascade`;
    }
    await sql`set synchronous_commit = off`;
    await sql`set maintenance_work_mem = '512MB'`;

    log(`contacts: ${sizes.contacts}`);
    await sql.unsafe(`
      insert into contacts (phone, name, email, company, position, lead_status, lead_score, source, tags,
                            opted_out_at, created_at, updated_at)
      select '+1' || (2025550000 + g)::text,
             case when g % 10 = 0 then null
                  else (${arr(FIRST)})[1 + g % ${FIRST.length}] || ' ' || (${arr(LAST)})[1 + (g / ${FIRST.length}) % ${LAST.length}] end,
             case when g % 5 < 3 then 'customer' || g || '@example.com' end,
             case when g % 5 < 2 then (${arr(COMPANIES)})[1 + g % ${COMPANIES.length}] end,
             case when g % 7 = 0 then 'Buyer' end,
             (array['new','new','new','contacted','contacted','qualified','proposal','customer','lost'])[1 + g % 9],
             (g * 37) % 101,
             (array['whatsapp','whatsapp','whatsapp','import','manual','ads','referral'])[1 + g % 7],
             case when g % 5 = 0 then array['vip'] when g % 11 = 0 then array['wholesale','vip'] when g % 3 = 0 then array['newsletter'] else '{}'::text[] end,
             case when g % 33 = 0 then now() - (g % 60) * interval '1 day' end,
             now() - ${sizes.days} * interval '1 day' - (g % 200) * interval '1 day',
             now()
      from generate_series(1, ${sizes.contacts}) g`);

    log(`conversations: ${sizes.conversations}`);
    await sql.unsafe(`
      insert into conversations (contact_id, owner, owner_since, unread_count, created_at)
      select id,
             case when rn % 10 = 0 then 'human' else 'bot' end,
             now() - (rn % 30) * interval '1 hour',
             case when rn % 7 = 0 then 1 + rn % 5 else 0 end,
             created_at
      from (select id, created_at, row_number() over (order by phone) as rn from contacts) c
      where rn <= ${sizes.conversations}`);

    // Messages are generated with their search indexes dropped, then the indexes are rebuilt: much
    // faster than maintaining a trigram index row by row.
    const indexes = (await sql`
      select indexname, indexdef from pg_indexes
      where schemaname = 'public' and tablename = 'messages'
        and indexname not in ('messages_pkey', 'messages_provider_message_id_key')`) as unknown as {
      indexname: string;
      indexdef: string;
    }[];
    for (const i of indexes) await sql.unsafe(`drop index if exists "${i.indexname}"`);

    log(`messages: ${sizes.messages} over ${sizes.days} days`);
    const chunk = 200_000;
    for (let from = 1; from <= sizes.messages; from += chunk) {
      const to = Math.min(sizes.messages, from + chunk - 1);
      await sql.unsafe(`
        with conv as (
          select id, row_number() over (order by id) - 1 as i from conversations
        ), w as (select ${arr(WORDS)} as words)
        insert into messages (conversation_id, direction, author, type, body, status, ai, created_at, updated_at)
        select conv.id,
               case when g % 20 < 11 then 'inbound' else 'outbound' end,
               case when g % 20 < 11 then 'contact' when g % 20 < 18 then 'bot' else 'agent' end,
               'text',
               w.words[1 + (g * 7) % ${WORDS.length}] || ' ' || w.words[1 + (g * 13) % ${WORDS.length}] || ' ' ||
                 w.words[1 + (g * 31) % ${WORDS.length}] || ' ' || w.words[1 + (g * 17) % ${WORDS.length}] ||
                 case when g % 3 = 0 then ' ' || w.words[1 + (g * 41) % ${WORDS.length}] || ' order ' || (g % 100000)::text else '' end,
               case when g % 20 < 11 then 'received' else (array['sent','delivered','read','read'])[1 + g % 4] end,
               case when g % 20 between 11 and 17 then jsonb_build_object('model', 'gpt-4o-mini',
                 'promptTokens', 300 + g % 700, 'completionTokens', 20 + g % 180, 'latencyMs', 400 + g % 2600) end,
               now() - ${sizes.days} * interval '1 day' * (1 - g::float8 / ${sizes.messages}),
               now()
        from generate_series(${from}, ${to}) g
        cross join w
        join conv on conv.i = (g * 2654435761::bigint) % ${sizes.conversations}`);
      log(`  ${to} messages`);
    }
    log('rebuilding message indexes');
    for (const i of indexes) {
      await sql.unsafe(i.indexdef);
      log(`  ${i.indexname}`);
    }

    log('conversation and contact summaries');
    await sql`
      update conversations c set last_message_at = m.created_at, last_message_preview = left(m.body, 120)
      from (select distinct on (conversation_id) conversation_id, created_at, body
            from messages order by conversation_id, created_at desc) m
      where m.conversation_id = c.id`;
    await sql`
      update conversations c set last_inbound_at = m.at
      from (select conversation_id, max(created_at) as at from messages where direction = 'inbound'
            group by conversation_id) m
      where m.conversation_id = c.id`;
    await sql`
      update contacts ct set last_inbound_at = c.last_inbound_at
      from conversations c where c.contact_id = ct.id and c.last_inbound_at is not null`;

    log('deals, tasks, activities, campaigns');
    await sql.unsafe(`
      insert into deals (contact_id, title, stage, value, currency, probability, created_at)
      select id, 'Order #' || rn,
             (array['lead','qualified','proposal','negotiation','won','lost'])[1 + rn % 6],
             ((rn * 7919) % 500000) / 100.0,
             case when rn % 10 = 0 then 'EUR' else 'USD' end,
             (rn * 13) % 101,
             now() - (rn % 90) * interval '1 day'
      from (select id, row_number() over (order by phone) as rn from contacts) c
      where rn % 5 = 0`);
    await sql.unsafe(`
      insert into tasks (contact_id, conversation_id, title, type, priority, status, due_at, created_at)
      select c.contact_id, c.id, 'Reply to the customer', 'handoff', 'high',
             case when rn % 3 = 0 then 'done' else 'open' end,
             now() + ((rn % 48) - 24) * interval '1 hour', now() - (rn % 48) * interval '1 hour'
      from (select id, contact_id, row_number() over (order by id) as rn from conversations where owner = 'human') c`);
    await sql.unsafe(`
      insert into tasks (contact_id, title, type, priority, status, due_at)
      select id, 'Follow up', 'follow_up', (array['low','medium','high','urgent'])[1 + rn % 4],
             case when rn % 2 = 0 then 'done' else 'open' end,
             now() + ((rn % 20) - 10) * interval '1 day'
      from (select id, row_number() over (order by phone) as rn from contacts) c
      where rn % 10 = 0`);
    await sql.unsafe(`
      insert into activities (contact_id, type, summary, actor_type, occurred_at)
      select id, 'note', 'Called about the order', 'agent', now() - (rn % 60) * interval '1 day'
      from (select id, row_number() over (order by phone) as rn from contacts) c
      where rn % 4 = 0`);
    await sql`
      insert into campaigns (name, template, status)
      values ('Spring sale', 'Hi {{name}}', 'running'), ('Winter sale', 'Hi {{name}}', 'completed')`;

    log('vacuum analyze');
    await sql.unsafe('vacuum analyze');
    const [counts] = await sql`
      select (select count(*) from contacts)::int as contacts,
             (select count(*) from conversations)::int as conversations,
             (select count(*) from messages)::int as messages,
             (select count(*) from deals)::int as deals,
             (select count(*) from tasks)::int as tasks`;
    log(`done: ${JSON.stringify(counts)}`);
  } finally {
    await database.close();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
