-- Trigram indexes for fuzzy and substring matching of titles and product names, where the
-- server ships pg_trgm (the embedded pgserver build does not).  Skipped with a NOTICE
-- otherwise, or when this role may not create the extension (search then falls back to
-- full text and exact array matches, which need no extension).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        RAISE NOTICE 'pg_trgm is not available on this server; trigram indexes skipped';
        RETURN;
    END IF;
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'may not create extension pg_trgm; trigram indexes skipped';
        RETURN;
    END;
    EXECUTE 'CREATE INDEX IF NOT EXISTS cves_title_trgm ON cves USING gin (title gin_trgm_ops)';
    EXECUTE 'CREATE INDEX IF NOT EXISTS cves_products_trgm ON cves USING gin (words_of(products) gin_trgm_ops)';
END
$$;
