import { describe, expect, it } from 'vitest';
import { parseNumbers } from '../../server/campaigns/numbers';
import {
  type ContactFields,
  render,
  templateVariables,
  unknownVariables,
} from '../../server/campaigns/template';
import { AppError } from '../../server/errors';

const contact = (c: Partial<ContactFields> = {}): ContactFields => ({
  phone: '+14155550100',
  name: 'Ada Lovelace',
  pushName: 'ada',
  email: null,
  company: 'Analytical',
  position: null,
  leadStatus: 'qualified',
  source: 'whatsapp',
  tags: ['vip', 'math'],
  ...c,
});

describe('templates', () => {
  it('fills contact fields, ignoring case, spaces and underscores in names', () => {
    const out = render(
      'Hi {{ First_Name }} ({{NAME}}) at {{company}}, tags {{tags}}, {{lead_status}}, {{phone}}',
      {
        contact: contact(),
        variables: {},
        defaults: {},
      },
    );
    expect(out).toEqual({
      text: 'Hi Ada (Ada Lovelace) at Analytical, tags vip, math, qualified, +14155550100',
      defaulted: [],
    });
  });

  it('uses the recipient own values first, then the contact, then the inline default, then the campaign default', () => {
    const input = {
      contact: contact({ company: null, name: null, pushName: 'Bob' }),
      defaults: { company: 'you', coupon: 'X' },
    };
    expect(render('{{name}} / {{company|your firm}} / {{coupon}}', { ...input, variables: {} }).text).toBe(
      'Bob / your firm / X',
    );
    expect(
      render('{{company}} / {{coupon}}', { ...input, variables: { coupon: 'CSV-1', company: 'From CSV' } })
        .text,
    ).toBe('From CSV / CSV-1');
    expect(render('{{company}}', { ...input, variables: {} })).toEqual({
      text: 'you',
      defaulted: ['company'],
    });
  });

  it('closes the gap an empty value leaves', () => {
    const none = { contact: contact({ name: null, pushName: null }), variables: {}, defaults: {} };
    expect(render('Hi {{name}}, welcome!', none).text).toBe('Hi, welcome!');
    expect(render('Hello {{name}} and welcome', none).text).toBe('Hello and welcome');
    expect(render('{{name}}\nSecond line', none).text).toBe('Second line');
  });

  it('lists the variables used and those nothing can fill', () => {
    expect(templateVariables('{{a}} {{b|x}} {{A}}').map((v) => [v.key, v.inlineDefault])).toEqual([
      ['a', null],
      ['b', 'x'],
    ]);
    expect(unknownVariables('{{name}} {{coupon}} {{city|here}} {{code}}', ['Coupon'])).toEqual(['code']);
  });
});

describe('pasted numbers and CSV', () => {
  it('reads one number per line in the default region, with invalid lines and duplicates by line', () => {
    const r = parseNumbers('+1 415 555 0101\n\n(415) 555-0102\nhello\n14155550101\n', 'US', 100);
    expect(r.rows.map((x) => [x.line, x.phone])).toEqual([
      [1, '+14155550101'],
      [3, '+14155550102'],
    ]);
    expect(r.invalid).toEqual([{ line: 4, value: 'hello', reason: 'not a valid phone number (region US)' }]);
    expect(r.duplicates).toEqual([{ line: 5, value: '+14155550101', reason: 'same number as line 1' }]);
    expect(r.lines).toBe(4);
  });

  it('uses the default region for national numbers', () => {
    expect(parseNumbers('020 7946 0958', 'GB', 10).rows[0]!.phone).toBe('+442079460958');
    expect(parseNumbers('98765 43210', 'IN', 10).rows[0]!.phone).toBe('+919876543210');
  });

  it('names columns as contact imports do (one alias table for both)', () => {
    const r = parseNumbers(
      'Mobile,Customer Name,Job title,Organisation\n+14155550101,Ann,CEO,Acme\n',
      'US',
      10,
    );
    expect(r.rows[0]!.contact).toEqual({ name: 'Ann', email: null, company: 'Acme', position: 'CEO' });
    expect(() => parseNumbers('Name,Notes\nAnn,hello\n', 'US', 10)).toThrow(/no phone column/);
  });

  it('reads a CSV by its header: contact fields and every other column as variables', () => {
    const csv =
      'Full Name;WhatsApp;E-mail;Discount\n"Lee, Ann";+44 20 7946 0958;ann@example.com;15%\nBo;+442079460959;not-an-email;\n';
    const r = parseNumbers(csv, 'US', 10);
    expect(r.columns).toEqual(['fullname', 'whatsapp', 'email', 'discount']);
    expect(r.rows[0]).toEqual({
      line: 2,
      phone: '+442079460958',
      contact: { name: 'Lee, Ann', email: 'ann@example.com', company: null, position: null },
      variables: { fullname: 'Lee, Ann', email: 'ann@example.com', discount: '15%' },
    });
    expect(r.rows[1]!.contact.email).toBeNull();
  });

  it('refuses a header without a phone column and more lines than allowed', () => {
    expect(() => parseNumbers('name,email\nAnn,a@b.co', 'US', 10)).toThrow(AppError);
    expect(() => parseNumbers('+14155550101\n+14155550102\n+14155550103', 'US', 2)).toThrow(/at most 2/);
  });
});
