import { relations } from 'drizzle-orm';
import { campaignRecipients, campaigns } from './schema/campaigns';
import { contactIdentities, contacts } from './schema/contacts';
import { botEvents, conversations, messages } from './schema/conversations';
import { activities, deals, tasks } from './schema/crm';

export const contactsRelations = relations(contacts, ({ many, one }) => ({
  identities: many(contactIdentities),
  conversation: one(conversations, { fields: [contacts.id], references: [conversations.contactId] }),
  deals: many(deals),
  tasks: many(tasks),
  activities: many(activities),
}));

export const contactIdentitiesRelations = relations(contactIdentities, ({ one }) => ({
  contact: one(contacts, { fields: [contactIdentities.contactId], references: [contacts.id] }),
}));

export const conversationsRelations = relations(conversations, ({ one, many }) => ({
  contact: one(contacts, { fields: [conversations.contactId], references: [contacts.id] }),
  messages: many(messages),
  botEvents: many(botEvents),
}));

export const messagesRelations = relations(messages, ({ one }) => ({
  conversation: one(conversations, { fields: [messages.conversationId], references: [conversations.id] }),
}));

export const botEventsRelations = relations(botEvents, ({ one }) => ({
  conversation: one(conversations, { fields: [botEvents.conversationId], references: [conversations.id] }),
}));

export const dealsRelations = relations(deals, ({ one }) => ({
  contact: one(contacts, { fields: [deals.contactId], references: [contacts.id] }),
}));

export const tasksRelations = relations(tasks, ({ one }) => ({
  contact: one(contacts, { fields: [tasks.contactId], references: [contacts.id] }),
  deal: one(deals, { fields: [tasks.dealId], references: [deals.id] }),
}));

export const activitiesRelations = relations(activities, ({ one }) => ({
  contact: one(contacts, { fields: [activities.contactId], references: [contacts.id] }),
}));

export const campaignsRelations = relations(campaigns, ({ many }) => ({
  recipients: many(campaignRecipients),
}));

export const campaignRecipientsRelations = relations(campaignRecipients, ({ one }) => ({
  campaign: one(campaigns, { fields: [campaignRecipients.campaignId], references: [campaigns.id] }),
  contact: one(contacts, { fields: [campaignRecipients.contactId], references: [contacts.id] }),
}));
