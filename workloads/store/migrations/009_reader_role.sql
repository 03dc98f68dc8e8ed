-- A read-only role for what only reads the store (the RAG API): <schema>_reader, NOLOGIN, with
-- USAGE on the schema and SELECT on its tables, now and later (default privileges of the role
-- that migrates, which also creates the index's tables).  No password here: a login user is
-- granted the role (the demo creates one with a random password; on a cluster, the database's
-- administrator does, and the RagEndpoint's API is given that user's credentials).
-- Idempotent; a migrator without CREATEROLE skips the role with a notice instead of failing,
-- so a store on a managed database whose user cannot create roles still migrates.
DO $$
DECLARE
    reader text := left(current_schema() || '_reader', 63);
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = reader) THEN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = current_user AND (rolcreaterole OR rolsuper)) THEN
            RAISE NOTICE 'role % not created: % may not create roles', reader, current_user;
            RETURN;
        END IF;
        EXECUTE format('CREATE ROLE %I NOLOGIN', reader);
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), reader);
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO %I', current_schema(), reader);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT ON TABLES TO %I', current_schema(), reader);
END
$$;
