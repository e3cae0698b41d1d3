ALTER TABLE "campaign_recipients" ADD COLUMN "position" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "campaign_recipients" ADD COLUMN "variables" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "campaign_recipients" ADD COLUMN "error_code" text;--> statement-breakpoint
ALTER TABLE "campaign_recipients" ADD COLUMN "finished_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "campaigns" ADD COLUMN "jitter_percent" integer DEFAULT 20 NOT NULL;--> statement-breakpoint
ALTER TABLE "campaigns" ADD COLUMN "failure_window" integer DEFAULT 20 NOT NULL;--> statement-breakpoint
ALTER TABLE "campaigns" ADD COLUMN "failure_threshold_percent" integer DEFAULT 50 NOT NULL;--> statement-breakpoint
ALTER TABLE "campaigns" ADD COLUMN "audience_report" jsonb DEFAULT '{"invalid":[],"duplicates":[],"invalidCount":0,"duplicateCount":0}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "campaigns" ADD COLUMN "paused_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "campaigns" ADD COLUMN "cancelled_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "campaigns" ADD COLUMN "lease_owner" text;--> statement-breakpoint
ALTER TABLE "campaigns" ADD COLUMN "lease_until" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "campaign_recipients_campaign_status_position_idx" ON "campaign_recipients" USING btree ("campaign_id","status","position");--> statement-breakpoint
CREATE INDEX "campaign_recipients_campaign_position_idx" ON "campaign_recipients" USING btree ("campaign_id","position","id");--> statement-breakpoint
CREATE INDEX "campaign_recipients_sending_idx" ON "campaign_recipients" USING btree ("claimed_at") WHERE "campaign_recipients"."status" = 'sending';