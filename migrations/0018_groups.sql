CREATE TABLE "gateway_syncs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"kind" text NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"total" integer,
	"processed" integer DEFAULT 0 NOT NULL,
	"created" integer DEFAULT 0 NOT NULL,
	"updated" integer DEFAULT 0 NOT NULL,
	"error" text,
	"started_by" text,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "gateway_syncs" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "group_messages" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"group_jid" text NOT NULL,
	"provider_message_id" text NOT NULL,
	"sender_phone" text,
	"sender_lid" text,
	"sender_name" text,
	"type" text NOT NULL,
	"body" text,
	"sent_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "group_messages" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "group_sends" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"group_jid" text NOT NULL,
	"text" text NOT NULL,
	"mentions" text[] DEFAULT '{}'::text[] NOT NULL,
	"status" text NOT NULL,
	"send_at" timestamp with time zone NOT NULL,
	"batch_id" uuid,
	"batch_name" text,
	"gap_seconds" real DEFAULT 0 NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"provider_message_id" text,
	"error" text,
	"created_by" text,
	"sent_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "group_sends_status_check" CHECK (status in ('scheduled', 'queued', 'sending', 'sent', 'failed', 'cancelled'))
);
--> statement-breakpoint
ALTER TABLE "group_sends" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "wa_groups" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"jid" text NOT NULL,
	"name" text,
	"participants" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"participant_count" integer DEFAULT 0 NOT NULL,
	"synced_at" timestamp with time zone DEFAULT now() NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "wa_groups" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "contacts" ADD COLUMN "picture_url" text;--> statement-breakpoint
CREATE INDEX "gateway_syncs_kind_idx" ON "gateway_syncs" USING btree ("kind","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE UNIQUE INDEX "gateway_syncs_active_key" ON "gateway_syncs" USING btree ("kind") WHERE status in ('queued', 'running');--> statement-breakpoint
CREATE UNIQUE INDEX "group_messages_provider_key" ON "group_messages" USING btree ("provider_message_id");--> statement-breakpoint
CREATE INDEX "group_messages_group_idx" ON "group_messages" USING btree ("group_jid","sent_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "group_sends_group_idx" ON "group_sends" USING btree ("group_jid","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "group_sends_batch_idx" ON "group_sends" USING btree ("batch_id");--> statement-breakpoint
CREATE INDEX "group_sends_status_idx" ON "group_sends" USING btree ("status","send_at");--> statement-breakpoint
CREATE UNIQUE INDEX "wa_groups_jid_key" ON "wa_groups" USING btree ("jid");--> statement-breakpoint
CREATE INDEX "wa_groups_name_idx" ON "wa_groups" USING btree ("name");