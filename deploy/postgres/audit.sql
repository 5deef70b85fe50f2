-- The audit trail: one row per operator action (schedule start/stop/create/update/delete/pause/resume, run-now,
-- retry-failed, cancel, webhook create/delete/rotate-secret, answer create/delete, dashboard sign-in/out), written by
-- the service that did it. Append-only for the services: schema and table belong to the role that runs this file
-- (the database's owner), not to a service, so no service role can alter, update, delete or truncate them. Each
-- service role may only INSERT, and only the columns that say what happened (never id or at: the id is the order,
-- at is the database's clock). The Scheduler also reads them (GET /api/audit) and deletes what is older than its
-- retention through audit.delete_expired, which never deletes a row younger than 30 days whatever it is asked.
-- Run by provision.sql (which sets the crewplatform.*_role settings first) and by the tests' template databases
-- (without those settings: no grants). Idempotent.
CREATE SCHEMA IF NOT EXISTS audit;

CREATE TABLE IF NOT EXISTS audit.entries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor text,
    client_address text,
    service text NOT NULL,
    action text NOT NULL,
    target text NOT NULL,
    fields jsonb NOT NULL DEFAULT '{}'::jsonb
);
COMMENT ON TABLE audit.entries IS 'CrewPlatform''s audit trail: who did what, when, from where; append-only for the services (deploy/postgres/audit.sql)';
COMMENT ON COLUMN audit.entries.actor IS 'Who, as the gateway authenticated the request: an API key''s name, jwt:<sub>, a dashboard session''s key name, anonymous with authentication off; null for a call that did not come through the gateway';

-- GET /api/audit pages newest first by id, filtered by actor, action or target, or by time.
CREATE INDEX IF NOT EXISTS entries_actor_id ON audit.entries (actor, id);
CREATE INDEX IF NOT EXISTS entries_action_id ON audit.entries (action, id);
CREATE INDEX IF NOT EXISTS entries_target_id ON audit.entries (target, id);
CREATE INDEX IF NOT EXISTS entries_at ON audit.entries (at);

-- Retention: deletes at most batch rows older than retain_days (30 at least) before now, oldest first; answers how many.
CREATE OR REPLACE FUNCTION audit.delete_expired(retain_days integer, batch integer) RETURNS integer
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    WITH doomed AS (
        SELECT id FROM audit.entries
        WHERE at < now() - make_interval(days => greatest(retain_days, 30))
        ORDER BY id
        LIMIT greatest(batch, 0)),
    gone AS (DELETE FROM audit.entries e USING doomed WHERE e.id = doomed.id RETURNING 1)
    SELECT count(*)::integer FROM gone
$$;
REVOKE ALL ON FUNCTION audit.delete_expired(integer, integer) FROM PUBLIC;

DO $grants$
DECLARE
    writer text;
    reader text := nullif(current_setting('crewplatform.scheduler_role', true), '');
BEGIN
    FOREACH writer IN ARRAY ARRAY[
        reader,
        nullif(current_setting('crewplatform.webhooks_role', true), ''),
        nullif(current_setting('crewplatform.response_store_role', true), '')]
    LOOP
        CONTINUE WHEN writer IS NULL;
        EXECUTE format('GRANT USAGE ON SCHEMA audit TO %I', writer);
        EXECUTE format('GRANT INSERT (actor, client_address, service, action, target, fields) ON audit.entries TO %I', writer);
    END LOOP;

    IF reader IS NOT NULL THEN
        EXECUTE format('GRANT SELECT ON audit.entries TO %I', reader);
        EXECUTE format('GRANT EXECUTE ON FUNCTION audit.delete_expired(integer, integer) TO %I', reader);
    END IF;
END
$grants$;
