CREATE TABLE "message_stats" (
	"bucket_start" timestamp with time zone PRIMARY KEY NOT NULL,
	"inbound" integer NOT NULL,
	"outbound" integer NOT NULL,
	"ai_replies" integer NOT NULL,
	"ai_prompt_tokens" double precision NOT NULL,
	"ai_completion_tokens" double precision NOT NULL,
	"ai_latencies" double precision[],
	"computed_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "message_stats" ENABLE ROW LEVEL SECURITY;