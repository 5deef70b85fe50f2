-- CrewPlatform's database roles, one login role per service, each the owner of its own schema and nothing else:
--   scheduler       schema scheduler; reads the host application's public.users
--   crew_caller     schema crew_caller
--   webhooks        schema webhooks
--   response_store  schema response_store (its migrations history) and public.crew_responses, the table the original
--                   application kept in public: the one role that may create tables in public; reads users and
--                   references it (crew_responses.user_uid)
-- Each service migrates its own schema at startup, as its own role. Run through deploy/postgres/provision.sh, which
-- passes the role names and passwords; idempotent: a second run sets the passwords again and changes nothing else.
-- Runs as the database's owner with CREATEROLE (a superuser will do).
SET client_min_messages = warning;
SELECT set_config('crewplatform.scheduler_role', :'scheduler_role', false),
       set_config('crewplatform.scheduler_password', :'scheduler_password', false),
       set_config('crewplatform.crew_caller_role', :'crew_caller_role', false),
       set_config('crewplatform.crew_caller_password', :'crew_caller_password', false),
       set_config('crewplatform.response_store_role', :'response_store_role', false),
       set_config('crewplatform.response_store_password', :'response_store_password', false),
       set_config('crewplatform.webhooks_role', :'webhooks_role', false),
       set_config('crewplatform.webhooks_password', :'webhooks_password', false) \g /dev/null

DO $provision$
DECLARE
    service record;
    owned regclass;
    scheduler_role text := current_setting('crewplatform.scheduler_role');
    response_store_role text := current_setting('crewplatform.response_store_role');
BEGIN
    -- PostgreSQL 15 and later already keep everyone else from creating objects in public; older databases did not.
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;

    FOR service IN
        SELECT * FROM (VALUES
            ('scheduler', scheduler_role, current_setting('crewplatform.scheduler_password')),
            ('crew_caller', current_setting('crewplatform.crew_caller_role'), current_setting('crewplatform.crew_caller_password')),
            ('response_store', response_store_role, current_setting('crewplatform.response_store_password')),
            ('webhooks', current_setting('crewplatform.webhooks_role'), current_setting('crewplatform.webhooks_password'))
        ) AS s(schema_name, role_name, password)
    LOOP
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = service.role_name) THEN
            EXECUTE format('ALTER ROLE %I LOGIN PASSWORD %L', service.role_name, service.password);
        ELSE
            EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', service.role_name, service.password);
        END IF;

        -- Handing the role its schema takes being able to act as it; a superuser already can.
        IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
           AND NOT pg_has_role(current_user, service.role_name, 'MEMBER') THEN
            EXECUTE format('GRANT %I TO %I', service.role_name, current_user);
        END IF;

        EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), service.role_name);
        EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', service.schema_name, service.role_name);

        -- A schema and tables an older version created as another role become the service's own, so that its
        -- next migration may alter them.
        EXECUTE format('ALTER SCHEMA %I OWNER TO %I', service.schema_name, service.role_name);
        FOR owned IN
            SELECT c.oid::regclass FROM pg_class c
            WHERE c.relnamespace = service.schema_name::regnamespace AND c.relkind IN ('r', 'p')
              AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = service.role_name)
        LOOP
            EXECUTE format('ALTER TABLE %s OWNER TO %I', owned, service.role_name);
        END LOOP;
    END LOOP;

    EXECUTE format('GRANT USAGE ON SCHEMA public TO %I, %I', scheduler_role, response_store_role);
    EXECUTE format('GRANT CREATE ON SCHEMA public TO %I', response_store_role);
    IF to_regclass('public.crew_responses') IS NOT NULL THEN
        EXECUTE format('ALTER TABLE public.crew_responses OWNER TO %I', response_store_role);
    END IF;

    IF to_regclass('public.users') IS NULL THEN
        RAISE WARNING 'public.users, the host application''s table, does not exist yet: run this again once it does, so that % and % may read it',
            scheduler_role, response_store_role;
    ELSE
        EXECUTE format('GRANT SELECT ON public.users TO %I', scheduler_role);
        EXECUTE format('GRANT SELECT, REFERENCES ON public.users TO %I', response_store_role);
        IF NOT has_table_privilege(scheduler_role, 'public.users', 'SELECT')
           OR NOT has_table_privilege(response_store_role, 'public.users', 'SELECT, REFERENCES') THEN
            RAISE WARNING 'only the owner of public.users can let the services read it: have it run GRANT SELECT ON public.users TO %, %; GRANT REFERENCES ON public.users TO %',
                scheduler_role, response_store_role, response_store_role;
        END IF;
    END IF;
END
$provision$;

-- The audit trail: owned by this role, written by the services (audit.sql says who may do what).
\ir audit.sql
