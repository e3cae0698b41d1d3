-- Trigram matching for the dashboard's substring search (contacts and message text).
-- On the embedded database, PGlite loads the extension's files at startup (server/db/client.ts).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
