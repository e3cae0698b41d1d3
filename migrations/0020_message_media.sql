CREATE TABLE "message_media" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"message_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"mime_type" text,
	"file_name" text,
	"voice" boolean DEFAULT false NOT NULL,
	"declared_bytes" bigint,
	"bytes" bigint,
	"sha256" text,
	"storage_key" text,
	"status" text DEFAULT 'pending' NOT NULL,
	"reason" text,
	"transcript" text,
	"handle" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "message_media_status_check" CHECK ("message_media"."status" in ('pending', 'stored', 'refused', 'failed'))
);
--> statement-breakpoint
ALTER TABLE "message_media" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "card" jsonb;--> statement-breakpoint
ALTER TABLE "message_media" ADD CONSTRAINT "message_media_message_id_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."messages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "message_media_message_id_key" ON "message_media" USING btree ("message_id");--> statement-breakpoint
CREATE INDEX "message_media_pending_idx" ON "message_media" USING btree ("created_at") WHERE "message_media"."status" = 'pending';