CREATE INDEX "campaign_recipients_contact_idx" ON "campaign_recipients" USING btree ("contact_id");--> statement-breakpoint
CREATE INDEX "contacts_search_trgm_idx" ON "contacts" USING gin ((coalesce("name", '') || ' ' || coalesce("push_name", '') || ' ' || coalesce("email", '') || ' ' || coalesce("company", '') || ' ' || "phone") gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "contacts_activity_idx" ON "contacts" USING btree (coalesce("last_inbound_at", "created_at") desc nulls last,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "contacts_score_idx" ON "contacts" USING btree ("lead_score" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "conversations_activity_idx" ON "conversations" USING btree (coalesce("last_message_at", "created_at") desc nulls last,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "messages_created_direction_idx" ON "messages" USING btree ("created_at","direction");--> statement-breakpoint
CREATE INDEX "messages_body_trgm_idx" ON "messages" USING gin ("body" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "activities_deal_idx" ON "activities" USING btree ("deal_id");--> statement-breakpoint
CREATE INDEX "tasks_deal_idx" ON "tasks" USING btree ("deal_id");--> statement-breakpoint
CREATE INDEX "tasks_open_handoff_idx" ON "tasks" USING btree ("conversation_id") WHERE "tasks"."type" = 'handoff' and "tasks"."status" = 'open';